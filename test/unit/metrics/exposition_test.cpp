#include "detour/metrics/exposition.hpp"
#include "detour/metrics/process_metrics.hpp"

#include <catch2/catch.hpp>

#include <cmath>
#include <string>

using detour::metrics::families;
using detour::metrics::histogram;
using detour::metrics::histogram_total;

namespace {

constexpr double bounds[] = {0.1, 1, 10};

}  // namespace

TEST_CASE("histograms of several workers add up into cumulative buckets", "[metrics]") {
  histogram a(bounds);
  histogram b(bounds);
  a.observe(0.05);
  a.observe(0.1);  // on a bound: counted in that bucket, as Prometheus's `le` says
  b.observe(5);
  b.observe(50);
  histogram_total total(bounds);
  total.add(a);
  total.add(b);
  families out;
  auto& f = detour::metrics::add_family(out, "t_seconds", "test", prometheus::MetricType::Histogram);
  total.add_to(f, {{"upstream", "direct"}});
  REQUIRE(f.metric.size() == 1);
  const auto& h = f.metric[0].histogram;
  REQUIRE(h.bucket.size() == 4);
  CHECK(h.bucket[0].cumulative_count == 2);
  CHECK(h.bucket[1].cumulative_count == 2);
  CHECK(h.bucket[2].cumulative_count == 3);
  CHECK(h.bucket[3].cumulative_count == 4);
  CHECK(std::isinf(h.bucket[3].upper_bound));
  CHECK(h.sample_count == 4);
  CHECK(h.sample_sum == Approx(55.15));
  const auto text = detour::metrics::to_text(out);
  CHECK_THAT(text, Catch::Contains("# TYPE t_seconds histogram") &&
                       Catch::Contains("t_seconds_bucket{upstream=\"direct\",le=\"+Inf\"} 4") &&
                       Catch::Contains("t_seconds_count{upstream=\"direct\"} 4"));
}

TEST_CASE("a counter family is written in the text format with its labels", "[metrics]") {
  families out;
  auto& f = detour::metrics::add_family(out, "detour_bytes_total", "bytes", prometheus::MetricType::Counter);
  detour::metrics::add_value(f, {{"route", "web \"1\""}, {"direction", "up"}}, 1234);
  CHECK_THAT(detour::metrics::to_text(out),
             Catch::Contains("# TYPE detour_bytes_total counter") &&
                 Catch::Contains("detour_bytes_total{route=\"web \\\"1\\\"\",direction=\"up\"} 1234"));
}

TEST_CASE("/proc/PID/stat is read after the last parenthesis of the command name", "[metrics]") {
  // Field 2 holds a name with spaces and a ")": only the last ")" ends it.
  const std::string stat =
      "4242 (det) our d) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 150 0 0 20 0 3 0 12345 104857600 2560 "
      "18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0";
  detour::metrics::process_sample p;
  REQUIRE(detour::metrics::parse_proc_stat(stat, 1'700'000'000, 100, 4096, p));
  CHECK(p.cpu_seconds == Approx(4.0));  // (250 + 150) ticks at 100 per second
  CHECK(p.start_time_seconds == Approx(1'700'000'123.45));
  CHECK(p.virtual_bytes == 104857600);
  CHECK(p.resident_bytes == 2560U * 4096U);
  CHECK_FALSE(detour::metrics::parse_proc_stat("4242 (truncated", 0, 100, 4096, p));
  CHECK_FALSE(detour::metrics::parse_proc_stat("4242 (x) S 1 2", 0, 100, 4096, p));
}

TEST_CASE("this process's figures are read from /proc", "[metrics]") {
  const auto p = detour::metrics::read_process();
  CHECK(p.open_fds >= 3);
  CHECK(p.max_fds >= p.open_fds);
  CHECK(p.resident_bytes > 0);
  CHECK(p.start_time_seconds > 1'600'000'000);
}

TEST_CASE("a family filled after others were added still shows its samples", "[metrics]") {
  detour::metrics::families out;
  auto& first = detour::metrics::add_family(out, "first_total", "The first family.", prometheus::MetricType::Counter);
  // Enough later families that a growing array would have moved the first one several times.
  for (int i = 0; i < 40; ++i)
    detour::metrics::add_family(out, "later_" + std::to_string(i), "A later family.", prometheus::MetricType::Gauge);
  detour::metrics::add_value(first, {{"kind", "late"}}, 7);
  auto text = detour::metrics::to_text(out);
  CHECK_THAT(text, Catch::StartsWith("# HELP first_total The first family.\n# TYPE first_total counter\n"
                                     "first_total{kind=\"late\"} 7\n"));
}
