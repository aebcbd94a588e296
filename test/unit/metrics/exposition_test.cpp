// Families built at scrape time: a family keeps its samples while later ones are added.
#include "detour/metrics/exposition.hpp"

#include <catch2/catch.hpp>

#include <string>

using detour::metrics::add_family;
using detour::metrics::add_value;
using prometheus::MetricType;

TEST_CASE("a family filled after others were added still shows its samples", "[metrics]") {
  detour::metrics::families out;
  auto& first = add_family(out, "first_total", "The first family.", MetricType::Counter);
  // Enough later families that a growing array would have moved the first one several times.
  for (int i = 0; i < 40; ++i) add_family(out, "later_" + std::to_string(i), "A later family.", MetricType::Gauge);
  add_value(first, {{"kind", "late"}}, 7);
  auto text = detour::metrics::to_text(out);
  CHECK_THAT(text, Catch::StartsWith("# HELP first_total The first family.\n# TYPE first_total counter\n"
                                     "first_total{kind=\"late\"} 7\n"));
}
