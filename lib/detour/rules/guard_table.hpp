#pragma once
#include "detour/config/config.hpp"
#include "detour/rules/installed_table.hpp"
#include "detour/rules/rule_plan.hpp"

#include <memory>

namespace detour::rules {

class guard_table;

// nullptr unless `intercept.enabled` and `intercept.on_failure: closed`. Logs what it installed.
// Throws rules_error with a readable message; nothing is installed then.
std::unique_ptr<guard_table> install_guard(const config& cfg);

// The fail-closed guard of `intercept.on_failure: closed` (make_guard_plan): a table without the
// owner flag, so that it stays when detourd dies and resets what the dead capture no longer
// redirects. Installed on construction, replacing a guard a crashed detourd left behind; removed
// on destruction, which is a clean stop: the guard has to go before the capture does, so that
// connections made while detourd drains go direct instead of being reset. replace() is for a
// reload, with the new config's make_guard_plan().
class guard_table : public installed_table {
 public:
  explicit guard_table(const rule_plan& plan);
};

}  // namespace detour::rules
