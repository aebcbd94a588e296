#include "detour/rules/rules_commands.hpp"

#include "detour/rules/render_nft.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

namespace detour::rules {

int rules_show(const config& cfg, std::ostream& out) {
  if (!cfg.intercept.enabled) out << "# intercept.enabled is false: detourd installs no rules\n";
  out << render_nft(make_plan(cfg));
  return 0;
}

int rules_install(const config& cfg, std::ostream& err) {
  if (!cfg.intercept.enabled) {
    err << "intercept.enabled is false: no rules installed\n";
    return 0;
  }
  try {
    nft_installer installer;
    installer.install(make_plan(cfg), ownership::none);
  } catch (const rules_error& e) {
    err << e.what() << '\n';
    return 1;
  }
  return 0;
}

int rules_remove(const config& cfg, std::ostream& err) {
  try {
    nft_installer installer;
    if (!installer.remove(cfg.intercept.table)) err << fmt::format("table inet {} is not installed\n", cfg.intercept.table);
  } catch (const rules_error& e) {
    err << e.what() << '\n';
    return 1;
  }
  return 0;
}

owned_table::owned_table(const rule_plan& plan) { installer_.install(plan, ownership::owner); }

owned_table::~owned_table() {
  // The kernel would delete the table when the socket closes anyway; deleting it first makes the
  // order explicit and reports a failure while we can still log it.
  auto table = installer_.installed() ? installer_.installed()->table : std::string();
  if (table.empty()) return;
  try {
    installer_.remove(table);
    spdlog::info("rules: removed table inet {}", table);
  } catch (const std::exception& e) {
    spdlog::warn("rules: {} (the kernel deletes the owned table when detourd exits)", e.what());
  }
}

void owned_table::replace(const rule_plan& plan) { installer_.replace(plan); }

std::unique_ptr<owned_table> install_owned_rules(const config& cfg) {
  if (!cfg.intercept.enabled) {
    spdlog::info("rules: intercept.enabled is false, installing no rules");
    return nullptr;
  }
  auto plan = make_plan(cfg);
  auto guard = std::make_unique<owned_table>(plan);
  std::size_t rules = 0;
  for (const auto& c : plan.chains) rules += c.rules.size();
  spdlog::info("rules: installed table inet {} (owned by this process) with {} chains, {} sets, {} rules",
               plan.table, plan.chains.size(), plan.sets.size(), rules);
  return guard;
}

}  // namespace detour::rules
