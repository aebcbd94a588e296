#include "detour/metrics/kernel_limit_metrics.hpp"

namespace detour::metrics {

using prometheus::MetricType;

void add_kernel_limit_families(families& out, const std::optional<net::conntrack_usage>& conntrack,
                               const std::optional<net::local_port_range>& ports) {
  if (conntrack) {
    add_value(add_family(out, "detour_conntrack_entries",
                         "Entries in this network namespace's conntrack table (nf_conntrack_count); each relayed "
                         "connection takes two.",
                         MetricType::Gauge),
              {}, static_cast<double>(conntrack->count));
    add_value(add_family(out, "detour_conntrack_max",
                         "Size of the conntrack table (nf_conntrack_max); once full, new connections are dropped.",
                         MetricType::Gauge),
              {}, static_cast<double>(conntrack->max));
  }
  if (ports) {
    add_value(add_family(out, "detour_local_ports",
                         "Ports in net.ipv4.ip_local_port_range: the most upstream connections open at once "
                         "towards one destination.",
                         MetricType::Gauge),
              {}, static_cast<double>(ports->size()));
  }
}

}  // namespace detour::metrics
