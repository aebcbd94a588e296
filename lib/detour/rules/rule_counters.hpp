#pragma once
// The packet and byte counters of detourd's rules, read back from the kernel. Every rule the
// installer puts in carries a `counter` and its name as comment (rule_plan), so the kernel's
// numbers can be told apart by chain and rule name, which are fixed words fit for metrics labels.
#include "detour/config/config.hpp"
#include "detour/rules/rule_plan.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace detour::rules {

struct rule_counter {
  std::string chain;  // "output", "prerouting"
  std::string rule;   // the rule's comment: "exclude_ports", "redirect"; empty for a rule without one
  std::uint64_t packets = 0;
  std::uint64_t bytes = 0;
  friend bool operator==(const rule_counter&, const rule_counter&) = default;
};

// Our table's rules with their counters, in the kernel's order, dumped over netlink in this
// process's network namespace. Rules without a counter (none of ours) are left out. Throws
// rules_error with the kernel's reason; its error_number() is ENOENT when the table is missing.
std::vector<rule_counter> read_rule_counters(const std::string& table);

// The plan in nft syntax (render_nft) with each rule's `counter packets N bytes M` taken from
// `counters` by chain and rule name: the live table, as `nft list table` shows it, with the set
// names of `plan`. A rule missing from `counters` keeps the bare `counter` of the plan.
std::string render_with_counters(const rule_plan& plan, const std::vector<rule_counter>& counters);
// The same for the plan of `cfg`, as `detourd rules show` renders it.
std::string render_with_counters(const config& cfg, const std::vector<rule_counter>& counters);

}  // namespace detour::rules
