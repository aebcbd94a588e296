#pragma once
#include <filesystem>
#include <ostream>

namespace detour::daemon {

// `detourd reload --pidfile PATH`: SIGHUP to the detourd PATH names (checked by
// running_detourd()), "detourd: sent SIGHUP to PID" on `out` and 0; or the reason on `err`
// ("detourd reload: pid file PATH: ...") and 1. The signal says nothing about the outcome: that is
// in detourd's log, and `detourd reload` through the admin endpoint waits for it.
int reload_by_signal(const std::filesystem::path& pidfile_path, std::ostream& out, std::ostream& err);

}  // namespace detour::daemon
