#pragma once
#include "detour/config/config.hpp"
#include "detour/rules/nft_installer.hpp"
#include "detour/rules/rule_plan.hpp"

#include <memory>

namespace detour::rules {

// The fail-closed guard of `intercept.on_failure: closed` (make_guard_plan): a table without the
// owner flag, so that it stays when detourd dies and resets what the dead capture no longer
// redirects. Installed on construction, replacing a guard a crashed detourd left behind; removed
// on destruction, which is a clean stop: the guard has to go before the capture does, so that
// connections made while detourd drains go direct instead of being reset.
class guard_table {
 public:
  explicit guard_table(const rule_plan& plan);
  ~guard_table();
  guard_table(const guard_table&) = delete;
  guard_table& operator=(const guard_table&) = delete;

  // Swaps the guard's rules for `plan` (a reload); on failure (rules_error) the old ones stay.
  void replace(const rule_plan& plan);
  const rule_plan& plan() const { return *installer_.installed(); }

 private:
  nft_installer installer_;
};

// nullptr unless `intercept.enabled` and `intercept.on_failure: closed`. Logs what it installed.
// Throws rules_error with a readable message; nothing is installed then.
std::unique_ptr<guard_table> install_guard(const config& cfg);

}  // namespace detour::rules
