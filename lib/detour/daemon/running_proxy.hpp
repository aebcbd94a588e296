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
#include <vector>

namespace detour::daemon {

// The running proxy as the admin endpoint sees it: its workers, the snapshot they run, the rules it
// owns. Every call runs on the admin thread; what it learns of sessions comes from the workers'
// own threads (worker::connections(), end_session()), waited for with a bound, and counters are
// read, never written.
class running_proxy final : public admin::backend {
 public:
  running_proxy(std::vector<std::unique_ptr<proxy::worker>>& workers, proxy::snapshot_ptr snapshot);

  // The rules, once installed (the admin endpoint is bound before them, so that a taken admin
  // port fails the start before anything is captured). Call before the admin server starts.
  void set_capture(const rules::owned_table* capture) { capture_ = capture; }

  // Ready once listeners are bound and rules installed; not ready again from the drain on.
  void set_ready(bool ready) { ready_.store(ready, std::memory_order_relaxed); }
  // Extra families (the access log's drops): called at each scrape.
  void add_families(std::function<void(metrics::families&)> source) { extra_.push_back(std::move(source)); }

  bool ready() const override { return ready_.load(std::memory_order_relaxed); }
  std::string metrics_text() override;
  boost::json::object stats() override;
  boost::json::object connections(const admin::connection_filter& filter) override;
  bool reset_connection(std::uint64_t id) override;
  std::string config_yaml() override;
  std::string rules_text() override;

 private:
  std::vector<const proxy::worker*> worker_view() const;

  std::vector<std::unique_ptr<proxy::worker>>& workers_;
  proxy::snapshot_ptr snapshot_;
  const rules::owned_table* capture_ = nullptr;
  std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
  std::atomic<bool> ready_{false};
  std::vector<std::function<void(metrics::families&)>> extra_;
};

}  // namespace detour::daemon
