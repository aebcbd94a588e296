#pragma once
#include "detour/config/config.hpp"
#include "detour/metrics/slot_array.hpp"
#include "detour/proxy/admission.hpp"
#include "detour/proxy/metric_names.hpp"
#include "detour/route/router.hpp"

#include <cstddef>
#include <memory>
#include <vector>

namespace detour::proxy {

// One validated config and the router compiled from it, never changed after construction. The
// worker holds the current one behind a shared_ptr and hands it to each session at accept: a
// session routes with the router and indexes the upstreams of the same config for its whole life,
// so a reload that swaps the worker's pointer can never mix one config's routes with another's
// upstreams.
struct snapshot {
  // Names its routes' and upstreams' metric slots in `names`: a route that keeps its name over a
  // reload keeps its counters.
  snapshot(config c, metric_registry& names);
  snapshot(const snapshot&) = delete;
  snapshot& operator=(const snapshot&) = delete;

  // The metric slot of a decision's route (the default route last) and of the upstream an action
  // connects through (direct last).
  std::size_t route_slot(const route::route_decision& d) const {
    return route_slots[d.rule ? *d.rule : route_slots.size() - 1];
  }
  std::size_t upstream_slot(const route_action& a) const {
    return upstream_slots[a.kind == route_kind::upstream ? a.upstream : upstream_slots.size() - 1];
  }

  const config cfg;
  const route::router router;
  const std::vector<std::size_t> route_slots;     // by router.route_names() index
  const std::vector<std::size_t> upstream_slots;  // by cfg.upstreams index, then direct
  // cfg.limits with `auto` resolved when the snapshot was made, so a reload re-reads RLIMIT_NOFILE.
  const admission_limits limits;
};

using snapshot_ptr = std::shared_ptr<const snapshot>;

// Upstream names as metrics label them: each upstream's name, then "direct".
std::vector<std::string> upstream_label_names(const config& cfg);

inline snapshot_ptr make_snapshot(config c, metric_registry& names) {
  return std::make_shared<const snapshot>(std::move(c), names);
}
// With names of its own: for a snapshot whose metrics nobody reads across reloads (tests, tools).
snapshot_ptr make_snapshot(config c);

}  // namespace detour::proxy
