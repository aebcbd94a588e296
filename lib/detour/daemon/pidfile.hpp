#pragma once
#include "detour/daemon/startup_error.hpp"

#include <sys/types.h>

#include <filesystem>

namespace detour::daemon {

// A pid file that cannot be written or read, or names no running detourd; what() names the path.
class pidfile_error : public startup_error {
 public:
  using startup_error::startup_error;
};

// `detourd run --pidfile PATH`: PATH holds "PID\n" for as long as this object lives. It is written
// to a temporary file in the same directory and renamed over PATH, so a reader (`detourd reload
// --pidfile`, a monitoring script) never sees a half-written or empty file, only the old pid or
// the new one. Throws pidfile_error naming the path.
class pidfile {
 public:
  explicit pidfile(std::filesystem::path path);
  pidfile(const pidfile&) = delete;
  pidfile& operator=(const pidfile&) = delete;
  // Removes the file if it still holds our pid: a detourd started since owns it now. After a
  // privilege drop the directory may no longer be writable; the file then stays, and the next
  // start replaces it.
  ~pidfile();

  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
  pid_t pid_;
};

// The pid a pid file names, once it is a positive integer (one trailing newline allowed), a live
// process has it, and that process is detourd (/proc/PID/comm). Throws pidfile_error naming the
// path and which of these failed.
pid_t running_detourd(const std::filesystem::path& path);

}  // namespace detour::daemon
