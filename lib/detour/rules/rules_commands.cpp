#include "detour/rules/rules_commands.hpp"

#include "detour/rules/nft_installer.hpp"
#include "detour/rules/render_nft.hpp"
#include "detour/rules/rule_counters.hpp"

#include <fmt/format.h>

#include <cerrno>

namespace detour::rules {

int rules_show(const config& cfg, std::ostream& out) {
  if (!cfg.intercept.enabled) out << "# intercept.enabled is false: detourd installs no rules\n";
  out << render_nft(make_plan(cfg));
  if (cfg.intercept.on_failure == failure_policy::closed) out << '\n' << render_nft(make_guard_plan(cfg));
  return 0;
}

int rules_show_counters(const config& cfg, std::ostream& out, std::ostream& err) {
  const auto& table = cfg.intercept.table;
  try {
    out << render_with_counters(cfg, read_rule_counters(table));
  } catch (const rules_error& e) {
    if (e.error_number() == ENOENT) {
      err << fmt::format("table inet {} is not installed (is detourd running in this network namespace?)\n", table);
    } else {
      err << e.what() << '\n';
    }
    return 1;
  }
  return 0;
}

int rules_install(const config& cfg, std::ostream& err) {
  if (!cfg.intercept.enabled) {
    err << "intercept.enabled is false: no rules installed\n";
    return 0;
  }
  try {
    // The guard first: at no moment is the capture in place without it.
    if (cfg.intercept.on_failure == failure_policy::closed)
      nft_installer().install(make_guard_plan(cfg), ownership::none);
    nft_installer().install(make_plan(cfg), ownership::none);
  } catch (const rules_error& e) {
    err << e.what() << '\n';
    return 1;
  }
  return 0;
}

int rules_remove(const config& cfg, std::ostream& err) {
  try {
    nft_installer installer;
    // The capture first: a table owned by a running detourd refuses (EPERM), and that detourd's
    // guard then stays too. The guard goes whatever on_failure says now: this is how a guard left
    // by a crashed detourd is lifted.
    if (!installer.remove(cfg.intercept.table))
      err << fmt::format("table inet {} is not installed\n", cfg.intercept.table);
    installer.remove(guard_table_name(cfg.intercept.table));
  } catch (const rules_error& e) {
    err << e.what() << '\n';
    return 1;
  }
  return 0;
}

}  // namespace detour::rules
