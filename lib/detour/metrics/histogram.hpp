#pragma once
#include "detour/metrics/counter.hpp"

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace detour::metrics {

// A histogram with one writer: per-bucket counts (not cumulative, so an observation touches one
// bucket) and the sum, read by any thread and added up over workers at scrape time.
// prometheus-cpp's Histogram::Observe takes a mutex, which the data path must not.
class histogram {
 public:
  // `bounds`: upper bounds in seconds, ascending; a last bucket (+Inf) is implied.
  explicit histogram(std::span<const double> bounds);

  void observe(double value);

  std::span<const double> bounds() const { return bounds_; }
  // Observations in bucket i (bounds()[i-1] < v <= bounds()[i]); i == bounds().size() is +Inf.
  std::uint64_t bucket(std::size_t i) const { return buckets_[i].get(); }
  double sum() const { return sum_.load(std::memory_order_relaxed); }

 private:
  std::span<const double> bounds_;
  std::vector<counter> buckets_;  // their sum is the count: one store per observation fewer
  std::atomic<double> sum_{0};
};

// Buckets for a connect, from loopback (a few tens of microseconds) to a distant proxy's timeout.
inline constexpr double connect_buckets[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                             0.05,   0.1,     0.25,   0.5,   1,      2.5,   5,    10};
// Buckets for a connection's life, from a refused one to a long-lived stream.
inline constexpr double duration_buckets[] = {0.001, 0.01, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 1800, 3600, 14400};

}  // namespace detour::metrics
