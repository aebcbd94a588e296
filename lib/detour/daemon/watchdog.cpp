#include "detour/daemon/watchdog.hpp"

#include <spdlog/spdlog.h>
#include <systemd/sd-daemon.h>

#include <algorithm>

namespace detour::daemon {

using namespace std::chrono_literals;

int stuck_worker(std::span<const proxy::worker* const> workers, std::chrono::steady_clock::time_point now,
                 std::chrono::milliseconds stale_after) {
  for (std::size_t i = 0; i < workers.size(); ++i) {
    const std::chrono::steady_clock::time_point last{std::chrono::steady_clock::duration(workers[i]->heartbeat())};
    if (now - last > stale_after) return static_cast<int>(i);
  }
  return -1;
}

watchdog::watchdog(std::chrono::milliseconds tick_period)
    // Two missed ticks and some scheduling slack: a busy but live worker is never taken for hung.
    : stale_after_(2 * tick_period + 500ms) {
  std::uint64_t usec = 0;
  if (sd_watchdog_enabled(0, &usec) > 0) interval_ = std::chrono::microseconds(usec);
}

std::chrono::milliseconds watchdog::period() const {
  return std::max<std::chrono::milliseconds>(std::chrono::duration_cast<std::chrono::milliseconds>(interval_ / 2), 1ms);
}

void watchdog::check(std::span<const proxy::worker* const> workers) {
  if (!enabled()) return;
  const int stuck = stuck_worker(workers, std::chrono::steady_clock::now(), stale_after_);
  if (stuck < 0) {
    if (stuck_logged_) spdlog::info("detourd: every worker is ticking again; watchdog pings resumed");
    stuck_logged_ = false;
    ping();
    return;
  }
  if (!stuck_logged_) {
    spdlog::error(
        "detourd: worker {} has not ticked for over {}ms; watchdog pings stop so that systemd restarts "
        "detourd",
        stuck, stale_after_.count());
    stuck_logged_ = true;
  }
}

void watchdog::ping() const {
  if (enabled()) sd_notify(0, "WATCHDOG=1");
}

}  // namespace detour::daemon
