#pragma once
#include "detour/metrics/exposition.hpp"
#include "detour/proxy/snapshot.hpp"

#include <span>

namespace detour::proxy {

class worker;

// Adds the detour_* families of the connections the workers handled, added up over the workers.
// Called on the admin thread while the workers run: it only reads their counters. Route and
// upstream label values come from `names`, the snapshot the workers were sized from.
void add_proxy_families(metrics::families& out, std::span<const worker* const> workers, const snapshot& names);

}  // namespace detour::proxy
