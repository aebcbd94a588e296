#pragma once
// The nat base chains of this network namespace that see connections where detourd's do: a
// read-only chain dump over netlink (nft list chains), plus x_tables' legacy nat tables, which
// nftables cannot list.
#include "detour/doctor/probe_results.hpp"

namespace detour::doctor {

// The output and prerouting nat chains of every table, ours included (the check skips it).
// Reading needs CAP_NET_ADMIN; without it `error` says so.
nat_chain_listing list_nat_chains();

}  // namespace detour::doctor
