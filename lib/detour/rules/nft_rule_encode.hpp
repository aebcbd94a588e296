#pragma once
// One rule of a plan as a libnftnl rule object: its matches, counter, verdict and comment as the
// expressions nft itself would emit. Used by nft_encode for NEWRULE messages.
#include "detour/rules/nftnl_objects.hpp"
#include "detour/rules/rule_plan.hpp"

#include <linux/netfilter.h>

#include <cstdint>
#include <string>

namespace detour::rules {

// Every object we create belongs to one inet table.
inline constexpr std::uint32_t nft_family = NFPROTO_INET;

// An empty rule of `chain_name` in `table` (what DELRULE names to flush a chain).
nftnl::rule_ptr rule_object(const std::string& table, const std::string& chain_name);

// `r` of `plan`'s chain `chain_name`; sets are referred to by name and by their id in the batch
// (index in plan.sets plus one). Throws std::logic_error for a set the plan does not declare.
nftnl::rule_ptr encode_rule(const rule_plan& plan, const std::string& chain_name, const rule& r);

}  // namespace detour::rules
