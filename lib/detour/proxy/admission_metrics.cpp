#include "detour/proxy/admission_metrics.hpp"

namespace detour::proxy {

void add_admission_families(metrics::families& out, const admission& counts, const admission_limits& limits) {
  using prometheus::MetricType;
  metrics::add_value(
      metrics::add_family(out, "detour_connections_open",
                          "Connections admitted and not yet closed, in the whole process.", MetricType::Gauge),
      {}, static_cast<double>(counts.open()));
  metrics::add_value(metrics::add_family(out, "detour_connections_limit",
                                         "max_connections in force (auto resolved): more open connections are reset.",
                                         MetricType::Gauge),
                     {}, static_cast<double>(limits.max_connections));
}

}  // namespace detour::proxy
