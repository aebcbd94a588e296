// How long router::decide takes with thousands of prefixes. Run:
//   ninja -C build route_bench && build/test/route_bench
#include "detour/route/router.hpp"

#include <benchmark/benchmark.h>
#include <fmt/format.h>

#include <random>

namespace {

using detour::route_action;
using detour::route_kind;
using detour::route_rule;
namespace ip = boost::asio::ip;

constexpr std::size_t prefix_count = 5000;

// Random /12../28 IPv4 prefixes and /32../64 IPv6 prefixes: the shape of country or ad-block lists.
detour::net::cidr random_cidr(std::mt19937& random, bool v6) {
  if (!v6) {
    auto address = ip::address_v4(static_cast<std::uint32_t>(random()));
    auto prefix = std::uniform_int_distribution<unsigned>(12, 28)(random);
    return *detour::net::parse_cidr(address.to_string() + "/" + std::to_string(prefix));
  }
  ip::address_v6::bytes_type bytes{};
  for (auto& b : bytes) b = static_cast<unsigned char>(random());
  bytes[0] = 0x20;
  auto prefix = std::uniform_int_distribution<unsigned>(32, 64)(random);
  return *detour::net::parse_cidr(ip::address_v6(bytes).to_string() + "/" + std::to_string(prefix));
}

std::vector<ip::tcp::endpoint> random_destinations(std::mt19937& random, bool v6) {
  std::vector<ip::tcp::endpoint> out;
  for (int i = 0; i < 4096; ++i) {
    auto c = random_cidr(random, v6);
    out.emplace_back(c.address, static_cast<std::uint16_t>(random() % 65535 + 1));
  }
  return out;
}

// The common case: a handful of rules, one of them carrying a long prefix list.
detour::route::router few_rules_many_prefixes(std::mt19937& random) {
  std::vector<route_rule> rules;
  rules.push_back({{*detour::net::parse_cidr("10.0.0.0/8")}, {}, {}, {route_kind::direct, 0}, ""});
  rules.push_back({{}, {{25, 25}}, {}, {route_kind::reject, 0}, ""});
  route_rule big;
  for (std::size_t i = 0; i < prefix_count; ++i) big.destinations.push_back(random_cidr(random, i % 2 == 1));
  big.action = {route_kind::direct, 0};
  rules.push_back(big);
  rules.push_back({{}, {{443, 443}}, {*detour::net::parse_cidr("192.168.0.0/16")}, {route_kind::upstream, 0}, ""});
  return detour::route::router(rules, {route_kind::upstream, 0}, {"corp"});
}

// The worst case for the bitsets: every prefix its own rule (79 words per set).
detour::route::router one_rule_per_prefix(std::mt19937& random) {
  std::vector<route_rule> rules;
  for (std::size_t i = 0; i < prefix_count; ++i) {
    rules.push_back({{random_cidr(random, i % 2 == 1)}, {}, {}, {route_kind::reject, 0}, ""});
  }
  return detour::route::router(rules, {route_kind::direct, 0}, {});
}

template <detour::route::router (*make)(std::mt19937&)>
void decide(benchmark::State& state) {
  std::mt19937 random(42);
  auto router = make(random);
  auto destinations = random_destinations(random, state.range(0) == 6);
  ip::tcp::endpoint source(ip::make_address("192.168.1.10"), 40000);
  std::size_t i = 0;
  for (auto _ : state) {
    auto d = router.decide({source, destinations[i++ & 4095]});
    benchmark::DoNotOptimize(d);
  }
  state.SetLabel(fmt::format("{} rules, {} prefixes", router.rule_count(), prefix_count));
}

BENCHMARK(decide<few_rules_many_prefixes>)->Arg(4)->Arg(6)->Name("decide/4_rules_5000_prefixes/ipv");
BENCHMARK(decide<one_rule_per_prefix>)->Arg(4)->Arg(6)->Name("decide/5000_rules_1_prefix_each/ipv");

}  // namespace

BENCHMARK_MAIN();
