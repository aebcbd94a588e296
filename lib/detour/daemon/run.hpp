#pragma once
#include "detour/config/config.hpp"

namespace detour::daemon {

// The supervisor of `detourd run`: a short linear script whose teardown is its exact reverse.
// Validate privileges → bind every listener → install rules → start workers → notify systemd →
// wait for a signal → remove rules → drain → exit. Nothing on the host changes before the config
// has validated and every listener is bound. Returns the process exit code; startup failures throw.
int run(const config& cfg);

}  // namespace detour::daemon
