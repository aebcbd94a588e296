#pragma once
#include "detour/config/config.hpp"

#include <cstdint>
#include <optional>
#include <string>

namespace detour::daemon {

// What `detourd run` was started with. A reload reads `config_path` again and applies the same
// overrides, so that it sees the config the start saw, with only the file's changes.
struct run_options {
  std::string config_path;  // empty: the built-in configuration
  std::optional<mode> mode_override;
  std::optional<std::uint16_t> port_override;
  std::optional<unsigned> workers_override;
  // `run --user NAME`: replaces `user:`, with NAME's primary group as the group.
  std::optional<std::string> user_override;
  std::string pidfile;  // empty: none
};

// The config file (or the built-in one) with the command-line overrides applied. Throws
// config_error.
config load_run_config(const run_options& options);

// The supervisor of `detourd run`: a short linear script whose teardown is its exact reverse.
// Validate privileges → bind every listener → install rules → start workers → notify systemd →
// wait for a signal → remove rules → drain → exit. Nothing on the host changes before the config
// has validated and every listener is bound. `cfg` is load_run_config(options), loaded by the
// caller to set up logging. Returns the process exit code; startup failures throw.
int run(const run_options& options, const config& cfg);

}  // namespace detour::daemon
