#pragma once
#include "detour/config/config.hpp"
#include "detour/rules/installed_table.hpp"
#include "detour/rules/rule_plan.hpp"

#include <memory>

namespace detour::rules {

// The owned table of a running detourd: installed on construction (replacing a stale table of the
// same name), removed on destruction (an explicit delete, then the socket closes). The table
// carries the owner flag, so if detourd dies instead, the kernel deletes it when the netlink socket
// closes and traffic flows directly again (fail-open). replace() swaps the whole ruleset through
// the owning socket. Turning capture on or off is not a replace: create or drop the guard instead.
class owned_table : public installed_table {
 public:
  explicit owned_table(const rule_plan& plan);

  // Stops capturing while keeping the table (draining_plan: connections already redirected keep
  // their translation until the table goes). Logs; on failure deletes the table instead.
  void stop_capturing();
};

// The guard for `detourd run`: nullptr when `intercept.enabled` is false. Logs what it installed.
// Throws rules_error with a readable message; nothing is installed then.
std::unique_ptr<owned_table> install_owned_rules(const config& cfg);

}  // namespace detour::rules
