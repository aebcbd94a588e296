#pragma once
// Prometheus text exposition read back by the tests: every sample line `name{labels} value` into a
// map, so that a test can compare two scrapes sample by sample.
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace detour::test {

using metric_labels = std::vector<std::pair<std::string, std::string>>;

// `name{a="1",b="2"}` with the labels sorted by name (`name` alone without labels): the one
// spelling of a sample whatever order the exposition wrote its labels in.
std::string sample_key(std::string_view name, metric_labels labels = {});

class metric_samples {
 public:
  // Parses every sample line of `text`, skipping comments (# HELP, # TYPE) and blank lines.
  // Throws std::runtime_error naming the line when one is not `name{labels} value`, or when the
  // same sample appears twice.
  static metric_samples parse(std::string_view text);

  bool contains(const std::string& key) const { return values_.contains(key); }
  // The sample's value; 0 when the scrape has no such sample (families that list only the label
  // sets that happened, as the closed connections do).
  double value(const std::string& key) const;
  std::size_t size() const { return values_.size(); }

 private:
  std::map<std::string, double> values_;
};

// How much `key` grew from `before` to `after`.
inline double delta(const metric_samples& before, const metric_samples& after, const std::string& key) {
  return after.value(key) - before.value(key);
}

}  // namespace detour::test
