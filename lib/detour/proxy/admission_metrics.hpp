#pragma once
#include "detour/metrics/exposition.hpp"
#include "detour/proxy/admission.hpp"

namespace detour::proxy {

// detour_connections_open (every connection holding an admission ticket, routed or not yet) and
// detour_connections_limit (the max_connections new connections are admitted by); any thread.
void add_admission_families(metrics::families& out, const admission& counts, const admission_limits& limits);

}  // namespace detour::proxy
