#include "detour/proxy/metric_names.hpp"

#include "detour/config/config.hpp"

#include <fmt/format.h>

namespace detour::proxy {

std::vector<std::size_t> metric_names::slots_for(const std::vector<std::string>& names, std::size_t max) {
  std::lock_guard lock(mutex_);
  std::size_t fresh = 0;
  for (const auto& n : names) fresh += slots_.contains(n) ? 0U : 1U;
  if (names_.size() + fresh > max) {
    throw config_error(
        fmt::format("this process has counted metrics under {} distinct names and keeps at most {}; "
                    "restart detourd to start the counts afresh",
                    names_.size(), max));
  }
  std::vector<std::size_t> out;
  out.reserve(names.size());
  for (const auto& n : names) {
    auto [it, added] = slots_.try_emplace(n, names_.size());
    if (added) names_.push_back(n);
    out.push_back(it->second);
  }
  return out;
}

std::vector<std::string> metric_names::names() const {
  std::lock_guard lock(mutex_);
  return names_;
}

}  // namespace detour::proxy
