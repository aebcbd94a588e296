// How long router::decide takes with thousands of prefixes and a hundred thousand host patterns,
// and how long a config holding such lists (as files) takes to load. Run:
//   ninja -C build route_bench && build/test/route_bench
#include "detour/config/config.hpp"
#include "detour/route/router.hpp"

#include <benchmark/benchmark.h>
#include <fmt/format.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <string>

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

// A workstation's lists: a domain list through the proxy, a country's prefixes direct, a block list
// rejected, all as files. Names are made of random labels under a few dozen top-level ones, so the
// trie is as wide at the top as a real list's.
constexpr std::size_t host_count = 100'000;
constexpr std::size_t list_prefix_count = 10'000;

std::string random_label(std::mt19937& random) {
  static constexpr std::string_view alphabet = "abcdefghijklmnopqrstuvwxyz0123456789";
  std::string label;
  for (auto n = 3 + random() % 10; n > 0; --n) label += alphabet[random() % alphabet.size()];
  return label;
}

std::string random_domain(std::mt19937& random) {
  static const std::vector<std::string> tops{"com", "net", "org", "io", "cn", "de", "ru", "uk", "jp", "info"};
  std::string name = random_label(random) + "." + tops[random() % tops.size()];
  if (random() % 4 == 0) name = random_label(random) + "." + name;
  return name;
}

struct workstation_lists {
  std::filesystem::path dir;
  std::vector<std::string> listed;  // the domain list's names, for queries that hit it
  std::string yaml;

  explicit workstation_lists(std::mt19937& random) {
    dir = std::filesystem::temp_directory_path() / fmt::format("route-bench-{}", ::getpid());
    std::filesystem::create_directories(dir);
    std::ofstream proxied(dir / "proxied.txt"), blocked(dir / "blocked.txt"), direct(dir / "direct.txt");
    proxied << "# the domain list, as list projects publish it\n";
    for (std::size_t i = 0; i < host_count; ++i) {
      auto name = random_domain(random);
      listed.push_back(name);
      // Mostly whole domains, some exact names, a few keywords: the mix of published lists.
      if (i % 100 == 0) {
        proxied << "keyword:" << random_label(random) << "\n";
      } else {
        proxied << (i % 5 == 0 ? "" : "*.") << name << "\n";
      }
    }
    for (int i = 0; i < 1000; ++i) blocked << "*." << random_domain(random) << "\n";
    for (std::size_t i = 0; i < list_prefix_count; ++i) direct << random_cidr(random, i % 4 == 3).to_string() << "\n";
    yaml = fmt::format(
        "upstreams:\n  corp: {{kind: socks5, servers: [\"10.0.0.1:1080\"]}}\n"
        "routes:\n"
        "  - {{name: ads, hosts_file: {0}/blocked.txt, action: reject}}\n"
        "  - {{name: lan, destinations: [10.0.0.0/8, 192.168.0.0/16], action: direct}}\n"
        "  - {{name: listed, hosts_file: {0}/proxied.txt, action: {{upstream: corp}}}}\n"
        "  - {{name: country, destinations_file: {0}/direct.txt, action: direct}}\n"
        "  - default: {{upstream: corp}}\n",
        dir.string());
  }
  ~workstation_lists() { std::filesystem::remove_all(dir); }
};

// Half the queries carry a listed name or one under it, a quarter an unlisted name, a quarter no
// name (a connection on a port that is not sniffed): the router walks every kind of path.
void decide_workstation(benchmark::State& state) {
  std::mt19937 random(42);
  workstation_lists lists(random);
  const auto c = detour::parse_config(lists.yaml, "bench.yaml");
  const detour::route::router router(c);
  std::vector<std::string> names;
  for (int i = 0; i < 4096; ++i) {
    switch (i % 4) {
      case 0:
        names.push_back(lists.listed[random() % lists.listed.size()]);
        break;
      case 1:
        names.push_back("www." + lists.listed[random() % lists.listed.size()]);
        break;
      case 2:
        names.push_back(random_domain(random));
        break;
      default:
        names.emplace_back();
    }
  }
  auto destinations = random_destinations(random, state.range(0) == 6);
  ip::tcp::endpoint source(ip::make_address("192.168.1.10"), 40000);
  std::size_t i = 0;
  for (auto _ : state) {
    const auto k = i++ & 4095;
    auto d = router.decide({source, destinations[k], names[k]});
    benchmark::DoNotOptimize(d);
  }
  state.SetLabel(fmt::format("{} host patterns, {} prefixes in files", host_count + 1000, list_prefix_count));
}

// parse_config reads the list files too: this is what `detourd check`, start and a reload pay
// before the router is built; the router build is the rest.
void load_workstation(benchmark::State& state) {
  std::mt19937 random(7);
  workstation_lists lists(random);
  for (auto _ : state) {
    const auto c = detour::parse_config(lists.yaml, "bench.yaml");
    const detour::route::router router(c);
    benchmark::DoNotOptimize(router.rule_count());
  }
  state.SetLabel(
      fmt::format("parse_config + router, {} host patterns, {} prefixes", host_count + 1000, list_prefix_count));
}

BENCHMARK(decide_workstation)->Arg(4)->Arg(6)->Name("decide/100000_hosts_10000_prefixes/ipv");
BENCHMARK(load_workstation)->Unit(benchmark::kMillisecond)->Name("load/100000_hosts_10000_prefixes");
BENCHMARK(decide<few_rules_many_prefixes>)->Arg(4)->Arg(6)->Name("decide/4_rules_5000_prefixes/ipv");
BENCHMARK(decide<one_rule_per_prefix>)->Arg(4)->Arg(6)->Name("decide/5000_rules_1_prefix_each/ipv");

}  // namespace

BENCHMARK_MAIN();
