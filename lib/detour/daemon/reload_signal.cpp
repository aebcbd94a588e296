#include "detour/daemon/reload_signal.hpp"

#include "detour/daemon/pidfile.hpp"

#include <fmt/format.h>

#include <signal.h>

#include <cerrno>
#include <system_error>

namespace detour::daemon {

int reload_by_signal(const std::filesystem::path& pidfile_path, std::ostream& out, std::ostream& err) {
  try {
    pid_t pid = running_detourd(pidfile_path);
    if (::kill(pid, SIGHUP) != 0) {
      throw pidfile_error(fmt::format("pid file {}: cannot signal pid {}: {}", pidfile_path.string(), pid,
                                      std::generic_category().message(errno)));
    }
    out << fmt::format("detourd: sent SIGHUP to {}\n", pid);
    return 0;
  } catch (const pidfile_error& e) {
    err << "detourd reload: " << e.what() << "\n";
    return 1;
  }
}

}  // namespace detour::daemon
