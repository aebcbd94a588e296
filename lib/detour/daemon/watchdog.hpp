#pragma once
#include "detour/proxy/worker.hpp"

#include <chrono>
#include <span>
#include <string>

namespace detour::daemon {

// The first worker (by index) whose event loop has not ticked within `stale_after` of `now`;
// -1 when every one has. A worker ticks once per tick period while its loop turns, so a worker
// stuck in a system call or a loop stops ticking.
int stuck_worker(std::span<const proxy::worker* const> workers, std::chrono::steady_clock::time_point now,
                 std::chrono::milliseconds stale_after);

// systemd's watchdog (WatchdogSec=): pings at half the interval it asks for, but only while every
// worker is alive, so that a hung worker stops the pings and systemd restarts detourd instead of
// leaving a proxy that accepts connections it never serves.
class watchdog {
 public:
  // Reads WATCHDOG_USEC; disabled when systemd does not watch this process. `tick_period` is the
  // workers' (how often a live worker ticks).
  explicit watchdog(std::chrono::milliseconds tick_period);

  bool enabled() const { return interval_.count() != 0; }
  // How often check() should run.
  std::chrono::milliseconds period() const;
  std::chrono::milliseconds stale_after() const { return stale_after_; }
  // Pings if every worker is ticking; logs (once per episode) the worker that is not.
  void check(std::span<const proxy::worker* const> workers);
  // Pings whatever the workers do: during the drain, when their loops no longer tick and the
  // stop timeout bounds the wait instead.
  void ping() const;

 private:
  std::chrono::microseconds interval_{0};
  std::chrono::milliseconds stale_after_;
  bool stuck_logged_ = false;
};

}  // namespace detour::daemon
