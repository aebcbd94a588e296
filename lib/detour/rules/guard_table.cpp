#include "detour/rules/guard_table.hpp"

#include <spdlog/spdlog.h>

namespace detour::rules {

// Unlike the owned table, nothing else removes it when this fails: say how.
guard_table::guard_table(const rule_plan& plan)
    : installed_table(
          plan, ownership::none, "guard table",
          "new connections stay refused until `detourd rules remove` or `nft delete table inet " + plan.table + "`") {}

std::unique_ptr<guard_table> install_guard(const config& cfg) {
  if (!cfg.intercept.enabled || cfg.intercept.on_failure != failure_policy::closed) return nullptr;
  auto plan = make_guard_plan(cfg);
  auto guard = std::make_unique<guard_table>(plan);
  spdlog::info(
      "rules: installed guard table inet {} with {} chains (on_failure: closed: if detourd dies, "
      "new connections it would capture are reset until it is back or `detourd rules remove` runs)",
      plan.table, plan.chains.size());
  return guard;
}

}  // namespace detour::rules
