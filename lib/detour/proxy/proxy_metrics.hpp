#pragma once
#include "detour/metrics/exposition.hpp"
#include "detour/proxy/metric_names.hpp"

#include <span>

namespace detour::proxy {

class worker;

// Adds the detour_* families of the connections the workers handled, added up over the workers.
// Called on the admin thread while the workers run: it only reads their counters. Route and
// upstream label values are every name counted since the start (`names`), so a route a reload
// removed keeps its last values.
void add_proxy_families(metrics::families& out, std::span<const worker* const> workers, const metric_registry& names);

}  // namespace detour::proxy
