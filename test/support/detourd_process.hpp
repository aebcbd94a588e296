#pragma once
#include "support/notify_socket.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"

#include <sys/types.h>

#include <csignal>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace detour::test {

using namespace std::chrono_literals;

// The config every test starts from: the tests install their own redirect rule with nft, so
// detourd's built-in rule installer stays off. Append more keys for the test at hand.
std::string test_config(std::uint16_t port, std::string_view mode, std::string_view more = "");

// Runs `detourd ARGS...` to completion (check, version, a run that must fail at startup).
// Throws if it has not exited within `timeout` (it is killed first). `launcher`, when given, is a
// command line (absolute path first) that runs detourd, e.g. setpriv dropping a capability.
finished_run run_detourd(const std::vector<std::string>& args, std::chrono::milliseconds timeout = 20s,
                         const std::vector<std::string>& launcher = {});

// The real detourd binary running `run -c <config> EXTRA_ARGS...` in this process's network
// namespace, with NOTIFY_SOCKET set to a test-owned notify_socket and `extra_env` ("NAME=value",
// e.g. "WATCHDOG_USEC=200000") added to its environment. The constructor returns once detourd has
// said READY=1 (its listeners are bound), and throws with detourd's stderr if it exits or stays
// silent instead. Every notify message stays recorded for the test to check. stderr is collected as it
// comes, so a test can wait for a log line without sleeping. The destructor kills the process
// (by its pid only) if the test did not stop it; detourd also dies with the test process
// (child_process), so not even a crashed test leaves it behind.
class detourd_process {
 public:
  // `launcher` as for run_detourd().
  explicit detourd_process(std::string_view config_yaml, const std::vector<std::string>& extra_args = {},
                           std::chrono::milliseconds ready_timeout = 20s, const std::vector<std::string>& launcher = {},
                           const std::vector<std::string>& extra_env = {});
  detourd_process(const detourd_process&) = delete;
  detourd_process& operator=(const detourd_process&) = delete;
  ~detourd_process();

  pid_t pid() const { return child_->pid(); }
  // The config file detourd runs with: rewrite it, then SIGHUP, to test a reload.
  std::filesystem::path config_file() const { return dir_.path() / "detour.yaml"; }

  // Every message detourd sent to NOTIFY_SOCKET so far, each as sent ("READY=1\nSTATUS=...").
  std::vector<std::string> notifications() const { return notify_.messages(); }
  // True once a notify message containing `needle` has arrived (earlier ones count); false if none
  // has within `timeout`.
  bool wait_for_notification(std::string_view needle, std::chrono::milliseconds timeout) const {
    return notify_.wait_for(needle, timeout);
  }

  // True once `needle` appears in stderr; false if it has not within `timeout`.
  bool wait_for_log(std::string_view needle, std::chrono::milliseconds timeout = 10s) const;
  std::string log() const;
  // How many lines of stderr contain `needle` so far.
  std::size_t count_log_lines(std::string_view needle) const;

  // Sends `signal` and returns at once.
  void send_signal(int signal) const;
  // Waits for detourd to exit; returns the exit code (128 + signal when killed). Throws if it has
  // not exited within `timeout` (it is killed first).
  int wait_for_exit(std::chrono::milliseconds timeout = 20s);
  // SIGTERM (or `signal`), then waits for the exit; returns the exit code (128 + signal when killed). Throws if
  // detourd has not exited within `timeout` (it is killed first).
  int stop(std::chrono::milliseconds timeout = 20s, int signal = SIGTERM);
  // The last line of stderr: after stop(), the counters line.
  std::string last_log_line() const;
  // A counter from the stop line (`detourd: stopped: accepted=N relayed=N ...`); nullopt if absent.
  std::optional<std::uint64_t> stop_counter(std::string_view name) const;

 private:
  void read_output();

  temp_dir dir_;
  notify_socket notify_;
  std::optional<child_process> child_;
  int output_pipe_ = -1;
  std::thread reader_;
  mutable std::mutex mutex_;
  mutable std::condition_variable grew_;
  std::string log_;
  bool log_closed_ = false;
};

// detourd in direct mode, with `more_config` appended, in a namespace from
// enter_redirected_netns(): upstream servers listen on 10.77.0.2, clients connect to them.
struct direct_proxy {
  explicit direct_proxy(std::string_view more_config = "");

  std::uint16_t port;
  detourd_process detourd;
};

}  // namespace detour::test
