#pragma once
#include "detour/admin/admin_backend.hpp"
#include "detour/config/config.hpp"
#include "detour/daemon/run.hpp"
#include "detour/proxy/metric_names.hpp"
#include "detour/proxy/worker.hpp"
#include "detour/rules/guard_table.hpp"
#include "detour/rules/owned_table.hpp"
#include "detour/rules/rule_plan.hpp"

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace detour::daemon {

class running_proxy;

// The keys of `next` that differ from `running` and cannot change in a running process, each as
// "`KEY` changes need a restart (running: A, file: B)". Empty: the reload can go ahead.
std::vector<std::string> restart_needed(const config& running, const config& next);

// Applies the config file again to a running detourd, all or nothing: read and validate the whole
// file, refuse keys that cannot change live, replace the rules (one transaction per step of the
// owned table's replace, no capture gap), then hand each worker the new snapshot for the
// connections it accepts from then on. Running connections keep the snapshot they started with,
// upstream included. Any failure before the workers are told leaves everything as it was: the
// kernel still has the old rules and the workers the old snapshot. Reloads from the signal and
// from the admin endpoint are serialised.
class reloader {
 public:
  reloader(const run_options& options, std::vector<std::unique_ptr<proxy::worker>>& workers, running_proxy& proxy,
           proxy::metric_registry& names, rules::owned_table* capture, rules::guard_table* guard,
           const config& started_with);

  // `trigger` names what asked ("SIGHUP", "POST /reload") in the log. Tells systemd RELOADING=1
  // and READY=1 around it.
  admin::reload_result reload(std::string_view trigger);
  // From the drain on, reloads are refused: the rules are about to go.
  void stop();

 private:
  admin::reload_result apply();

  const run_options options_;
  std::vector<std::unique_ptr<proxy::worker>>& workers_;
  running_proxy& proxy_;
  proxy::metric_registry& names_;
  std::mutex mutex_;
  rules::owned_table* capture_;           // under mutex_; nullptr without rules or once stopping
  rules::guard_table* guard_;             // likewise; nullptr unless on_failure: closed
  std::optional<rules::rule_plan> plan_;  // the plan last asked for (installed names carry generations)
  bool stopping_ = false;
  unsigned generation_ = 1;
};

}  // namespace detour::daemon
