#pragma once
#include <cstddef>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace detour::proxy {

// The label values metrics have been kept under since the start, each with its slot in the
// workers' counters. A reload that keeps a route's name keeps counting into the same slot; a new
// name gets a new slot; a removed route keeps its counters (a Prometheus counter must not go
// back). Used when a snapshot is built and by the scrape, never on the data path.
class metric_names {
 public:
  // The slot of each of `names`, in order, giving new names the next free slots. Throws
  // config_error when the process would exceed `max` distinct names.
  std::vector<std::size_t> slots_for(const std::vector<std::string>& names, std::size_t max);
  // Every name, in slot order.
  std::vector<std::string> names() const;

 private:
  mutable std::mutex mutex_;
  std::vector<std::string> names_;
  std::unordered_map<std::string, std::size_t> slots_;
};

// Routes and upstreams ("direct" included) are named apart: a route may share an upstream's name.
struct metric_registry {
  metric_names routes;
  metric_names upstreams;
};

}  // namespace detour::proxy
