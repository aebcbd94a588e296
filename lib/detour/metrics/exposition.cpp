#include "detour/metrics/exposition.hpp"

#include <prometheus/text_serializer.h>

#include <limits>
#include <sstream>
#include <vector>

namespace detour::metrics {

prometheus::MetricFamily& add_family(families& out, std::string name, std::string help, prometheus::MetricType type) {
  auto& f = out.emplace_back();
  f.name = std::move(name);
  f.help = std::move(help);
  f.type = type;
  return f;
}

void add_value(prometheus::MetricFamily& family, labels l, double value) {
  auto& m = family.metric.emplace_back();
  m.label = std::move(l);
  if (family.type == prometheus::MetricType::Counter) {
    m.counter.value = value;
  } else {
    m.gauge.value = value;
  }
}

void histogram_total::add(const histogram& h) {
  for (std::size_t i = 0; i < buckets_.size(); ++i) buckets_[i] += h.bucket(i);
  sum_ += h.sum();
}

void histogram_total::add_to(prometheus::MetricFamily& family, labels l) const {
  auto& m = family.metric.emplace_back();
  m.label = std::move(l);
  // The count is the buckets' total, so _count and the +Inf bucket always agree.
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i < buckets_.size(); ++i) {
    cumulative += buckets_[i];
    m.histogram.bucket.push_back(
        {cumulative, i < bounds_.size() ? bounds_[i] : std::numeric_limits<double>::infinity()});
  }
  m.histogram.sample_count = cumulative;
  m.histogram.sample_sum = sum_;
}

std::string to_text(const families& all) {
  std::ostringstream out;
  prometheus::TextSerializer().Serialize(out, std::vector<prometheus::MetricFamily>(all.begin(), all.end()));
  return out.str();
}

}  // namespace detour::metrics
