#pragma once
#include "detour/metrics/histogram.hpp"

#include <prometheus/client_metric.h>
#include <prometheus/metric_family.h>
#include <prometheus/metric_type.h>

#include <cstdint>
#include <deque>
#include <span>
#include <string>
#include <vector>

// Building Prometheus families from the workers' own counters at scrape time: the data path keeps
// plain single-writer counters, and only a scrape allocates, adds up and formats.
namespace detour::metrics {

// A deque, not a vector: add_family() hands out references that a scrape keeps filling while it
// adds the next families, and a deque's push_back never moves the elements already in it.
using families = std::deque<prometheus::MetricFamily>;
using labels = std::vector<prometheus::ClientMetric::Label>;

// Appends an empty family and returns it; the reference stays valid as more families are added.
prometheus::MetricFamily& add_family(families& out, std::string name, std::string help, prometheus::MetricType type);
// One sample of a counter or gauge family.
void add_value(prometheus::MetricFamily& family, labels l, double value);

// Histograms of several workers, added up bucket by bucket.
class histogram_total {
 public:
  explicit histogram_total(std::span<const double> bounds) : bounds_(bounds), buckets_(bounds.size() + 1) {}
  void add(const histogram& h);
  void add_to(prometheus::MetricFamily& family, labels l) const;

 private:
  std::span<const double> bounds_;
  std::vector<std::uint64_t> buckets_;
  double sum_ = 0;
};

// The text exposition format (version 0.0.4), what GET /metrics answers.
std::string to_text(const families& all);

}  // namespace detour::metrics
