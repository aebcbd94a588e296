#include "detour/rules/owned_table.hpp"

#include <spdlog/spdlog.h>

namespace detour::rules {

// The kernel would delete the table when the socket closes anyway; deleting it first makes the
// order explicit and reports a failure while we can still log it.
owned_table::owned_table(const rule_plan& plan)
    : installed_table(plan, ownership::owner, "table", "the kernel deletes the owned table when detourd exits") {}

void owned_table::stop_capturing() {
  const auto table = plan().table;
  try {
    replace(draining_plan(plan()));
    spdlog::info("rules: capture stopped: table inet {} holds no capture rule until the drain ends", table);
  } catch (const std::exception& e) {
    spdlog::warn("rules: could not empty table inet {} ({}); deleting it instead", table, e.what());
    installer().remove(table);
  }
}

std::unique_ptr<owned_table> install_owned_rules(const config& cfg) {
  if (!cfg.intercept.enabled) {
    spdlog::info("rules: intercept.enabled is false, installing no rules");
    return nullptr;
  }
  auto plan = make_plan(cfg);
  auto guard = std::make_unique<owned_table>(plan);
  std::size_t rules = 0;
  for (const auto& c : plan.chains) rules += c.rules.size();
  spdlog::info("rules: installed table inet {} (owned by this process) with {} chains, {} sets, {} rules", plan.table,
               plan.chains.size(), plan.sets.size(), rules);
  return guard;
}

}  // namespace detour::rules
