#include "detour/metrics/histogram.hpp"

#include <algorithm>

namespace detour::metrics {

histogram::histogram(std::span<const double> bounds) : bounds_(bounds), buckets_(bounds.size() + 1) {}

void histogram::observe(double value) {
  const auto i = static_cast<std::size_t>(std::lower_bound(bounds_.begin(), bounds_.end(), value) - bounds_.begin());
  buckets_[i].add();
  sum_.store(sum_.load(std::memory_order_relaxed) + value, std::memory_order_relaxed);
}

}  // namespace detour::metrics
