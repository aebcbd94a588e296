#include "detour/proxy/admission.hpp"

#include <boost/asio/ip/address.hpp>
#include <catch2/catch.hpp>

#include <sys/resource.h>

#include <utility>
#include <vector>

using boost::asio::ip::make_address;
using detour::proxy::admission;
using detour::proxy::admission_limits;
using detour::proxy::admission_ticket;

namespace {

admission_limits limits(std::uint64_t total, std::optional<std::uint64_t> per_source = std::nullopt,
                        unsigned prefix = 64) {
  admission_limits l;
  l.max_connections = total;
  l.max_connections_per_source = per_source;
  l.ipv6_source_prefix = prefix;
  return l;
}

}  // namespace

TEST_CASE("max_connections admits up to the limit and refuses the next, naming the limit", "[admission]") {
  admission a;
  const auto l = limits(3);
  std::vector<admission_ticket> held;
  std::string why;
  for (int i = 0; i < 3; ++i) {
    held.push_back(a.admit(l, make_address("10.0.0.1"), why));
    CHECK(held.back().held());
  }
  CHECK(why.empty());
  CHECK(a.open() == 3);
  auto over = a.admit(l, make_address("10.0.0.2"), why);
  CHECK_FALSE(over.held());
  CHECK(why == "limit: max_connections 3");
  CHECK(a.open() == 3);  // the refused one was taken back
  held.pop_back();
  CHECK(a.open() == 2);
  why.clear();
  CHECK(a.admit(l, make_address("10.0.0.2"), why).held());
}

TEST_CASE("a ticket gives its place back exactly once, however it ends", "[admission]") {
  admission a;
  const auto l = limits(10, 1);
  std::string why;
  SECTION("destroyed") {
    { auto t = a.admit(l, make_address("10.0.0.1"), why); }
    CHECK(a.open() == 0);
  }
  SECTION("released, then destroyed") {
    auto t = a.admit(l, make_address("10.0.0.1"), why);
    t.release();
    CHECK_FALSE(t.held());
    t.release();
    CHECK(a.open() == 0);
  }
  SECTION("moved: only the new owner gives it back") {
    auto t = a.admit(l, make_address("10.0.0.1"), why);
    admission_ticket moved(std::move(t));
    CHECK_FALSE(t.held());  // NOLINT(bugprone-use-after-move): a moved-from ticket is empty
    CHECK(moved.held());
    t.release();
    CHECK(a.open() == 1);
    admission_ticket assigned;
    assigned = std::move(moved);
    CHECK(a.open() == 1);
    CHECK(a.open_from(detour::proxy::source_key_of(make_address("10.0.0.1"), 64)) == 1);
    assigned = admission_ticket();
    CHECK(a.open() == 0);
  }
  // The per-source count went back with the total: the same source is admitted again.
  CHECK(a.open_from(detour::proxy::source_key_of(make_address("10.0.0.1"), 64)) == 0);
  CHECK(a.admit(l, make_address("10.0.0.1"), why).held());
}

TEST_CASE("max_connections_per_source counts each IPv4 address on its own", "[admission]") {
  admission a;
  const auto l = limits(100, 2);
  std::string why;
  auto a1 = a.admit(l, make_address("10.77.0.3"), why);
  auto a2 = a.admit(l, make_address("10.77.0.3"), why);
  auto b1 = a.admit(l, make_address("10.77.0.4"), why);
  CHECK((a1.held() && a2.held() && b1.held()));
  auto a3 = a.admit(l, make_address("10.77.0.3"), why);
  CHECK_FALSE(a3.held());
  CHECK(why == "limit: max_connections_per_source 2 (10.77.0.3)");
  CHECK(a.open() == 3);  // a per-source refusal takes its place in the total back too
  CHECK(a.open_from(detour::proxy::source_key_of(make_address("10.77.0.3"), 64)) == 2);
  // A v4-mapped IPv6 peer is the same IPv4 source.
  CHECK_FALSE(a.admit(l, make_address("::ffff:10.77.0.3"), why).held());
  a1.release();
  why.clear();
  CHECK(a.admit(l, make_address("10.77.0.3"), why).held());
}

TEST_CASE("IPv6 sources are grouped by the configured prefix", "[admission]") {
  admission a;
  std::string why;
  SECTION("/64: two addresses of one /64 share a count, another /64 has its own") {
    const auto l = limits(100, 1, 64);
    auto first = a.admit(l, make_address("2001:db8:1:2::1"), why);
    CHECK(first.held());
    CHECK_FALSE(a.admit(l, make_address("2001:db8:1:2:ffff::9"), why).held());
    CHECK(why == "limit: max_connections_per_source 1 (2001:db8:1:2::/64)");
    CHECK(a.admit(l, make_address("2001:db8:1:3::1"), why).held());
  }
  SECTION("/56 groups across the fourth group's low byte; /128 is one address") {
    auto first = a.admit(limits(100, 1, 56), make_address("2001:db8:1:200::1"), why);
    CHECK_FALSE(a.admit(limits(100, 1, 56), make_address("2001:db8:1:2ff::1"), why).held());
    CHECK(why == "limit: max_connections_per_source 1 (2001:db8:1:200::/56)");
    CHECK(a.admit(limits(100, 1, 56), make_address("2001:db8:1:300::1"), why).held());
    auto single = a.admit(limits(100, 1, 128), make_address("2001:db8:9::1"), why);
    CHECK(single.held());
    CHECK(a.admit(limits(100, 1, 128), make_address("2001:db8:9::2"), why).held());
    CHECK_FALSE(a.admit(limits(100, 1, 128), make_address("2001:db8:9::1"), why).held());
    CHECK(why == "limit: max_connections_per_source 1 (2001:db8:9::1)");
  }
  SECTION("a prefix that is not a whole byte masks the bits below it") {
    const auto k = detour::proxy::source_key_of(make_address("2001:db8:ffff:ffff::1"), 35);
    CHECK(detour::proxy::to_string(k, 35) == "2001:db8:e000::/35");
  }
}

TEST_CASE("many sources spread over the shards and all come back to zero", "[admission]") {
  admission a;
  const auto l = limits(100'000, 3);
  std::string why;
  std::vector<admission_ticket> held;
  for (unsigned i = 0; i < 2000; ++i) {
    const auto address = boost::asio::ip::address_v4(0x0a000000U + i);
    for (int k = 0; k < 3; ++k) held.push_back(a.admit(l, address, why));
    CHECK_FALSE(a.admit(l, address, why).held());
  }
  CHECK(a.open() == 6000);
  held.clear();
  CHECK(a.open() == 0);
  for (unsigned i = 0; i < 2000; i += 97) {
    CHECK(a.open_from(detour::proxy::source_key_of(boost::asio::ip::address_v4(0x0a000000U + i), 64)) == 0);
  }
}

TEST_CASE("a per-source limit switched on later counts only connections admitted from then on", "[admission]") {
  admission a;
  std::string why;
  auto before = a.admit(limits(10), make_address("10.0.0.1"), why);
  auto after = a.admit(limits(10, 1), make_address("10.0.0.1"), why);
  CHECK(after.held());
  before.release();  // counted in the total only: the source's count is untouched
  CHECK(a.open_from(detour::proxy::source_key_of(make_address("10.0.0.1"), 64)) == 1);
  CHECK_FALSE(a.admit(limits(10, 1), make_address("10.0.0.1"), why).held());
}

TEST_CASE("auto max_connections keeps a reserve and counts 3 descriptors a connection", "[admission]") {
  using detour::proxy::auto_max_connections;
  CHECK(auto_max_connections(1'048'576, 2) == (1'048'576 - 64 - 2 * 516) / 3);
  CHECK(auto_max_connections(65'536, 4) == (65'536 - 64 - 4 * 516) / 3);
  // A small limit keeps half for the reserve rather than leaving nothing.
  CHECK(auto_max_connections(1024, 2) == 512 / 3);
  CHECK(auto_max_connections(2, 8) == 1);
}

TEST_CASE("auto is resolved from the soft descriptor limit read at that moment", "[admission]") {
  rlimit now{};
  REQUIRE(::getrlimit(RLIMIT_NOFILE, &now) == 0);
  const auto resolved = detour::proxy::resolve_limits(detour::limits_config{}, 2);
  REQUIRE(resolved.auto_from_nofile);
  CHECK(*resolved.auto_from_nofile == now.rlim_cur);
  CHECK(resolved.max_connections == detour::proxy::auto_max_connections(now.rlim_cur, 2));
  CHECK(detour::proxy::describe(resolved) == "max_connections " + std::to_string(resolved.max_connections) +
                                                 " (auto: RLIMIT_NOFILE " + std::to_string(now.rlim_cur) +
                                                 ", 3 descriptors per connection), max_connections_per_source off");
  detour::limits_config fixed;
  fixed.max_connections = 5;
  fixed.max_connections_per_source = 2;
  fixed.ipv6_source_prefix = 48;
  const auto f = detour::proxy::resolve_limits(fixed, 2);
  CHECK_FALSE(f.auto_from_nofile);
  CHECK(detour::proxy::describe(f) == "max_connections 5, max_connections_per_source 2 (IPv6 by /48)");
}

TEST_CASE("the refusal warning is due at most once a second and says how many it held back", "[admission]") {
  admission a;
  using clock = std::chrono::steady_clock;
  const auto t0 = clock::now();
  std::uint64_t suppressed = 99;
  CHECK(a.warning_due(t0, suppressed));
  CHECK(suppressed == 0);
  CHECK_FALSE(a.warning_due(t0 + std::chrono::milliseconds(10), suppressed));
  CHECK_FALSE(a.warning_due(t0 + std::chrono::milliseconds(999), suppressed));
  CHECK(a.warning_due(t0 + std::chrono::milliseconds(1000), suppressed));
  CHECK(suppressed == 2);
}
