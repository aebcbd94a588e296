#pragma once
#include "detour/config/config.hpp"
#include "detour/route/router.hpp"

#include <memory>

namespace detour::proxy {

// One validated config and the router compiled from it, never changed after construction. The
// worker holds the current one behind a shared_ptr and hands it to each session at accept: a
// session routes with the router and indexes the upstreams of the same config for its whole life,
// so a reload that swaps the worker's pointer can never mix one config's routes with another's
// upstreams.
struct snapshot {
  explicit snapshot(config c) : cfg(std::move(c)), router(cfg) {}
  snapshot(const snapshot&) = delete;
  snapshot& operator=(const snapshot&) = delete;

  const config cfg;
  const route::router router;
};

using snapshot_ptr = std::shared_ptr<const snapshot>;

inline snapshot_ptr make_snapshot(config c) { return std::make_shared<const snapshot>(std::move(c)); }

}  // namespace detour::proxy
