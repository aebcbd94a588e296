#pragma once
#include "detour/net/conntrack_usage.hpp"
#include "detour/net/local_port_range.hpp"
#include "detour/upstream/failure_kind.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace detour::upstream {

// The limits of this process and namespace that a failed connect may have run into. Read only
// when a connect fails, and only what its kind calls for: nothing on the path of a connect that
// works.
struct resource_context {
  std::uint64_t descriptor_limit = 0;  // soft RLIMIT_NOFILE; 0: not read
  std::optional<net::local_port_range> ports;
  std::optional<net::conntrack_usage> conntrack;
};

// Reads what explain() needs for a failure of `kind`.
resource_context read_resource_context(failure_kind kind);

// A failed connect as the log and the metrics should tell it.
struct explained_failure {
  std::string text;    // the session's reason: "no local ports: connect: ... (net.ipv4.ip_local_port_range ...)"
  failure_kind kind;   // conntrack_full for a timeout while the table is full
  std::string remedy;  // for the rate-limited warning; empty when the failure is not about a limit
};

// Names the real cause of a connect failure that comes from running out of something: the
// descriptor limit, the local port range, a full conntrack table. Other failures pass through as
// they are. A full table drops packets silently, so the only sign detourd gets is a connect that
// times out (or fails with the EPERM the output hook's drop gives): those become conntrack_full
// while the table is (nearly) full.
explained_failure explain(std::string_view text, failure_kind kind, const resource_context& context);

}  // namespace detour::upstream
