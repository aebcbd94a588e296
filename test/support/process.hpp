#pragma once
// The one way the tests start programs: detourd itself, and the real servers and proxies they
// talk to (microsocks, tinyproxy, nginx).
#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace detour::test {

using namespace std::chrono_literals;

// A child process running `argv` (argv[0] an absolute path), stdin from /dev/null, stdout and
// stderr on the given descriptors (the caller closes its own copies afterwards). Its environment
// is the test's, minus NOTIFY_SOCKET and WATCHDOG_USEC/WATCHDOG_PID, plus `extra_env` ("NAME=value",
// replacing an inherited variable of the same name). It dies with the test
// process whatever kills that (PR_SET_PDEATHSIG), and is killed by its pid when destroyed, so
// nothing outlives a test, not even a crashed one.
class child_process {
 public:
  child_process(const std::vector<std::string>& argv, int stdout_fd, int stderr_fd,
                const std::vector<std::string>& extra_env = {});
  child_process(const child_process&) = delete;
  child_process& operator=(const child_process&) = delete;
  ~child_process();

  pid_t pid() const { return pid_; }
  // Readable (POLLIN) once the child has exited: for a poll() that also waits on something else.
  int pidfd() const { return pidfd_; }
  // Set once the child has been reaped: its exit code, 128 + signal when killed.
  std::optional<int> exit_code() const { return exit_code_; }

  // Sends `signal` unless the child has been reaped already.
  void signal(int signal) const;
  // Waits up to `timeout` for the child to exit and reaps it; nullopt if it is still running.
  std::optional<int> wait(std::chrono::milliseconds timeout);
  // SIGKILL, then the exit code (128 + SIGKILL), or the one it had if it had exited already.
  int kill();

 private:
  pid_t pid_ = -1;
  int pidfd_ = -1;
  std::optional<int> exit_code_;
};

// What a program that ran to completion printed, and how it ended.
struct finished_run {
  int exit_code = -1;  // 128 + signal when killed
  std::string out;
  std::string err;
};

// Runs `argv` to completion (argv[0] an absolute path), collecting its stdout and stderr. Throws
// if it has not exited within `timeout` (it is killed first).
finished_run run_to_completion(const std::vector<std::string>& argv, std::chrono::milliseconds timeout);

// A program started for the test with its stdout and stderr in a file.
class background_process {
 public:
  background_process(const std::vector<std::string>& argv, std::filesystem::path output);

  pid_t pid() const { return child_->pid(); }
  std::string output() const;
  // True once `needle` is in the output; false if not within `timeout`. External programs have no
  // other way to say what they did, so this polls their log.
  bool wait_for_output(std::string_view needle, std::chrono::milliseconds timeout = 10s) const;

 private:
  std::filesystem::path output_;
  std::optional<child_process> child_;
};

}  // namespace detour::test
