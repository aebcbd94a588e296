#pragma once
#include "detour/rules/rule_plan.hpp"

#include <string>

namespace detour::rules {

// The plan in nft syntax, laid out as `nft -y list ruleset` prints it (numeric priorities; set
// elements on one line, where nft wraps them), and accepted by `nft -f`. This is what
// `detourd rules show` prints.
std::string render_nft(const rule_plan& plan);

// One rule as nft prints it, e.g. `tcp dport != @out_ports return`; error messages quote it.
std::string render_rule(const rule& r);

std::string_view to_string(set_type t);
std::string_view to_string(hook h);

}  // namespace detour::rules
