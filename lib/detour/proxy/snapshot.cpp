#include "detour/proxy/snapshot.hpp"

namespace detour::proxy {

namespace {
constexpr auto max_names = metrics::slot_array<int>::max_slots;
}

std::vector<std::string> upstream_label_names(const config& cfg) {
  std::vector<std::string> out;
  out.reserve(cfg.upstreams.size() + 1);
  for (const auto& u : cfg.upstreams) out.push_back(u.name);
  out.emplace_back("direct");
  return out;
}

snapshot::snapshot(config c, metric_registry& names)
    : cfg(std::move(c)),
      router(cfg),
      route_slots(names.routes.slots_for(router.route_names(), max_names)),
      upstream_slots(names.upstreams.slots_for(upstream_label_names(cfg), max_names)),
      limits(resolve_limits(cfg.limits, cfg.workers)) {}

snapshot_ptr make_snapshot(config c) {
  metric_registry names;
  return make_snapshot(std::move(c), names);
}

}  // namespace detour::proxy
