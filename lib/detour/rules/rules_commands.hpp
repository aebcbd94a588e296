#pragma once
// The rules side of detourd's command line, and the guard `detourd run` holds.
//
// How the daemon uses it (daemon/main.cpp):
//   detourd rules show [-c FILE]  ->  return rules::rules_show(cfg, std::cout);
//   detourd rules install         ->  return rules::rules_install(cfg);
//   detourd rules remove          ->  return rules::rules_remove(cfg);
//   detourd run:
//     load and validate config; bind the listeners; then
//       auto capture = rules::install_owned_rules(cfg);   // nullptr when intercept.enabled is false
//     (throws rules_error with a readable message: log it and exit non-zero; nothing was installed);
//     on SIGHUP with a validated new config:
//       if (capture) capture->replace(rules::make_plan(new_cfg));   // throws: keep the old rules
//     on shutdown: capture.reset() before the listeners close, so no connection is redirected to a
//     closed port. If detourd dies instead, the kernel deletes the owned table when its netlink
//     socket closes: traffic then flows directly (fail-open).
// Enabling or disabling intercept on reload is not handled by replace(): construct or reset the
// guard instead.
#include "detour/config/config.hpp"
#include "detour/rules/nft_installer.hpp"
#include "detour/rules/rule_plan.hpp"

#include <iostream>
#include <memory>
#include <ostream>

namespace detour::rules {

// Prints the ruleset `run` would install, in nft syntax; touches nothing. Returns 0.
int rules_show(const config& cfg, std::ostream& out);

// Installs the table un-owned, so it stays after this process exits (init containers, as
// istio-init does), replacing a table of the same name. Errors go to `err`; returns 0 or 1.
int rules_install(const config& cfg, std::ostream& err = std::cerr);

// Deletes the table. A missing table is not an error (says so on `err`, returns 0); a table
// owned by a running detourd cannot be deleted (returns 1 with the reason).
int rules_remove(const config& cfg, std::ostream& err = std::cerr);

// The owned table of a running detourd: installed on construction (replacing a stale table of the
// same name), removed on destruction (an explicit delete, then the socket closes).
class owned_table {
 public:
  explicit owned_table(const rule_plan& plan);
  ~owned_table();
  owned_table(const owned_table&) = delete;
  owned_table& operator=(const owned_table&) = delete;

  // Swaps the whole ruleset in one batch through the owning socket; on failure (rules_error) the
  // previous rules stay in force.
  void replace(const rule_plan& plan);
  const rule_plan& plan() const { return *installer_.installed(); }

 private:
  nft_installer installer_;
};

// The guard for `detourd run`: nullptr when `intercept.enabled` is false. Logs what it installed.
std::unique_ptr<owned_table> install_owned_rules(const config& cfg);

}  // namespace detour::rules
