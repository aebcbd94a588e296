#pragma once
#include "detour/rules/nft_installer.hpp"
#include "detour/rules/rule_plan.hpp"

#include <string>

namespace detour::rules {

// A table this process installed and removes when it is destroyed: the base of owned_table (the
// capture) and guard_table (the fail-closed guard), which differ in ownership and in what a failed
// removal leaves behind.
class installed_table {
 public:
  installed_table(const installed_table&) = delete;
  installed_table& operator=(const installed_table&) = delete;

  // Swaps the whole ruleset through the same socket; on failure (rules_error) the previous rules
  // stay in force.
  void replace(const rule_plan& plan) { installer_.replace(plan); }
  const rule_plan& plan() const { return *installer_.installed(); }

 protected:
  // Installs `plan`, replacing a stale table of the same name. `kind` names it in the log
  // ("table", "guard table"); `if_not_removed` tells what follows when its removal fails.
  installed_table(const rule_plan& plan, ownership own, std::string kind, std::string if_not_removed);
  ~installed_table();
  nft_installer& installer() { return installer_; }

 private:
  nft_installer installer_;
  std::string kind_;
  std::string if_not_removed_;
};

}  // namespace detour::rules
