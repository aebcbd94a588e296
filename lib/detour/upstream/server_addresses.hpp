#pragma once
#include "detour/config/config.hpp"
#include "detour/net/cidr.hpp"

#include <vector>

namespace detour::upstream {

// Every upstream server address as a host prefix (/32, /128), merged. The capture rules exclude
// these destinations, so a connection to a proxy is never redirected back into detourd, even with
// the mark disabled or a route that would send it upstream: no loop, whatever the user configured.
std::vector<net::cidr> upstream_server_cidrs(const config& cfg);

}  // namespace detour::upstream
