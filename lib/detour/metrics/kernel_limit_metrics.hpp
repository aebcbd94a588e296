#pragma once
#include "detour/metrics/exposition.hpp"
#include "detour/net/conntrack_usage.hpp"
#include "detour/net/local_port_range.hpp"

#include <optional>

namespace detour::metrics {

// The namespace's limits that relayed connections use up, read at scrape time:
// detour_conntrack_entries and detour_conntrack_max (absent while conntrack is not loaded), and
// detour_local_ports, the size of net.ipv4.ip_local_port_range, which bounds the connections open
// at once towards any one destination.
void add_kernel_limit_families(families& out, const std::optional<net::conntrack_usage>& conntrack,
                               const std::optional<net::local_port_range>& ports);

}  // namespace detour::metrics
