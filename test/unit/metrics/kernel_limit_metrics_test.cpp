#include "detour/metrics/kernel_limit_metrics.hpp"

#include <catch2/catch.hpp>

using detour::metrics::add_kernel_limit_families;

TEST_CASE("conntrack and local port gauges show the namespace's limits, and only those it has", "[metrics]") {
  detour::metrics::families out;
  SECTION("all known") {
    add_kernel_limit_families(out, detour::net::conntrack_usage{1234, 65536},
                              detour::net::local_port_range{40000, 40003});
    auto text = detour::metrics::to_text(out);
    CHECK_THAT(text, Catch::Contains("detour_conntrack_entries 1234\n"));
    CHECK_THAT(text, Catch::Contains("detour_conntrack_max 65536\n"));
    CHECK_THAT(text, Catch::Contains("detour_local_ports 4\n"));
    CHECK_THAT(text, Catch::Contains("# TYPE detour_conntrack_entries gauge"));
  }
  SECTION("conntrack not loaded: no conntrack samples at all, rather than zeros") {
    add_kernel_limit_families(out, std::nullopt, detour::net::local_port_range{32768, 60999});
    auto text = detour::metrics::to_text(out);
    CHECK_THAT(text, !Catch::Contains("detour_conntrack"));
    CHECK_THAT(text, Catch::Contains("detour_local_ports 28232\n"));
  }
}
