#pragma once
#include "detour/rules/rule_plan.hpp"

#include <functional>
#include <string>
#include <string_view>

namespace detour::rules {

// The plan in nft syntax, laid out as `nft -y list ruleset` prints it (numeric priorities; set
// elements on one line, where nft wraps them), and accepted by `nft -f`. This is what
// `detourd rules show` prints.
std::string render_nft(const rule_plan& plan);

// The counter statement to print in a rule: `counter` for a plan, `counter packets 3 bytes 180`
// for a rule as the kernel holds it.
using counter_statement = std::function<std::string(const chain&, const rule&)>;
// The plan with each rule's counter statement from `counter`: render_nft(plan) with live counters.
std::string render_nft(const rule_plan& plan, const counter_statement& counter);

// One rule as nft prints it, e.g. `tcp dport != @out_ports counter return comment "ports"`, with
// `counter` as its counter statement; error messages quote it.
std::string render_rule(const rule& r, std::string_view counter = "counter");

std::string_view to_string(set_type t);
std::string_view to_string(hook h);
std::string_view to_string(chain_type t);
// A rule's verdict as nft prints it: `return`, `redirect to :15001`, `reject with tcp reset`.
std::string verdict_text(const rule& r);

}  // namespace detour::rules
