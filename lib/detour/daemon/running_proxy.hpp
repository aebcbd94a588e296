#pragma once
#include "detour/admin/admin_backend.hpp"
#include "detour/metrics/exposition.hpp"
#include "detour/proxy/snapshot.hpp"
#include "detour/proxy/worker.hpp"
#include "detour/rules/owned_table.hpp"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

namespace detour::daemon {

// The running proxy as the admin endpoint sees it: its workers, the snapshot they run, the rules it
// owns. Every call runs on the admin thread; what it learns of sessions comes from the workers'
// own threads (worker::connections(), end_session()), waited for with a bound, and counters are
// read, never written.
class running_proxy final : public admin::backend {
 public:
  // `names`: every metric name the workers count under (it outlives this object).
  running_proxy(std::vector<std::unique_ptr<proxy::worker>>& workers, proxy::snapshot_ptr snapshot,
                const proxy::metric_registry& names);

  // The snapshot new connections get, as /config and /stats show it; swapped by a reload.
  void set_snapshot(proxy::snapshot_ptr next) {
    std::lock_guard lock(snapshot_mutex_);
    snapshot_ = std::move(next);
  }
  proxy::snapshot_ptr snapshot() const {
    std::lock_guard lock(snapshot_mutex_);
    return snapshot_;
  }
  // A reload's outcome, for detour_config_reloads_total.
  void count_reload(bool ok) { (ok ? reloads_ok_ : reloads_failed_).fetch_add(1, std::memory_order_relaxed); }

  // The rules, once installed (the admin endpoint is bound before them, so that a taken admin
  // port fails the start before anything is captured), and nullptr before they are removed at the
  // drain: the admin thread may be reading their counters meanwhile.
  void set_capture(const rules::owned_table* capture) {
    std::lock_guard lock(capture_mutex_);
    capture_ = capture;
  }

  // Ready once listeners are bound and rules installed; not ready again from the drain on.
  void set_ready(bool ready) { ready_.store(ready, std::memory_order_relaxed); }

  // What reload() runs: set by the daemon once it can reload (it reads the config file again and
  // swaps rules and snapshots); until then, and without one, reload() says it is not available.
  void set_reloader(std::function<admin::reload_result()> reloader);

  bool ready() const override { return ready_.load(std::memory_order_relaxed); }
  std::string metrics_text() override;
  boost::json::object stats() override;
  boost::json::object connections(const admin::connection_filter& filter) override;
  bool reset_connection(std::uint64_t id) override;
  std::string config_yaml() override;
  std::string rules_text() override;
  admin::reload_result reload() override;

 private:
  std::vector<const proxy::worker*> worker_view() const;
  bool rules_installed();

  std::vector<std::unique_ptr<proxy::worker>>& workers_;
  const proxy::metric_registry& names_;
  mutable std::mutex snapshot_mutex_;
  proxy::snapshot_ptr snapshot_;  // under snapshot_mutex_
  std::atomic<std::uint64_t> reloads_ok_{0};
  std::atomic<std::uint64_t> reloads_failed_{0};
  std::mutex capture_mutex_;
  const rules::owned_table* capture_ = nullptr;  // under capture_mutex_
  // set_reloader() runs on the daemon's thread, reload() on the admin thread.
  std::mutex reloader_mutex_;
  std::function<admin::reload_result()> reloader_;  // under reloader_mutex_
  std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
  std::atomic<bool> ready_{false};
};

}  // namespace detour::daemon
