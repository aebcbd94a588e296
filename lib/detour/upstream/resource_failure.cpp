#include "detour/upstream/resource_failure.hpp"

#include "detour/net/descriptor_limit.hpp"

#include <fmt/format.h>

namespace detour::upstream {

namespace {

bool conntrack_may_explain(failure_kind kind) { return kind == failure_kind::timeout || kind == failure_kind::other; }

}  // namespace

resource_context read_resource_context(failure_kind kind) {
  resource_context context;
  if (kind == failure_kind::no_descriptors) context.descriptor_limit = net::soft_descriptor_limit();
  if (kind == failure_kind::no_ports) context.ports = net::read_local_port_range();
  if (conntrack_may_explain(kind)) context.conntrack = net::read_conntrack_usage();
  return context;
}

explained_failure explain(std::string_view text, failure_kind kind, const resource_context& context) {
  switch (kind) {
    case failure_kind::no_descriptors: {
      auto limit =
          context.descriptor_limit != 0 ? fmt::format(" (RLIMIT_NOFILE {})", context.descriptor_limit) : std::string();
      return {fmt::format("no descriptors: {}{}", text, limit), kind,
              "raise LimitNOFILE= (ulimit -n) or lower limits.max_connections"};
    }
    case failure_kind::no_ports: {
      auto range = context.ports ? fmt::format(" (net.ipv4.ip_local_port_range {}, each usable once per destination)",
                                               context.ports->to_string())
                                 : std::string();
      return {fmt::format("no local ports: {}{}", text, range), kind,
              "widen net.ipv4.ip_local_port_range, or spread the connections over more destinations"};
    }
    default:
      break;
  }
  if (conntrack_may_explain(kind) && context.conntrack && context.conntrack->nearly_full()) {
    return {fmt::format("conntrack full: {} (nf_conntrack_count {} of nf_conntrack_max {}: the kernel drops new "
                        "connections' packets)",
                        text, context.conntrack->count, context.conntrack->max),
            failure_kind::conntrack_full, "raise net.netfilter.nf_conntrack_max"};
  }
  return {std::string(text), kind, {}};
}

}  // namespace detour::upstream
