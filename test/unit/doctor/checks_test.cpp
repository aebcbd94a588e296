#include "detour/doctor/checks.hpp"

#include <catch2/catch.hpp>

#include <sys/resource.h>

using namespace detour::doctor;

namespace {

const probe_step passed{probe_outcome::ok, ""};

namespace_probe_result probe_with(probe_step ipv4, probe_step ipv6) { return {passed, passed, ipv4, ipv6}; }

std::uint64_t caps(std::initializer_list<int> bits) {
  std::uint64_t mask = 0;
  for (int b : bits) mask |= std::uint64_t{1} << b;
  return mask;
}

}  // namespace

TEST_CASE("nat and the original destination pass, fail or warn by what the namespace test saw", "[doctor]") {
  auto good = probe_with({probe_outcome::ok, "127.0.0.1:9"}, {probe_outcome::ok, "[::1]:9"});
  CHECK(check_nat(good).verdict == level::ok);
  CHECK(format_line(check_original_destination(good, false)) ==
        "OK    original destination ipv4: SO_ORIGINAL_DST gives back 127.0.0.1:9 of a redirected connection");

  auto no_v6 =
      probe_with({probe_outcome::ok, "127.0.0.1:9"}, {probe_outcome::unavailable, "[::1]:10009 cannot be bound"});
  CHECK(check_original_destination(no_v6, true).verdict == level::warn);
  CHECK(check_original_destination(no_v6, false).verdict == level::ok);

  auto broken =
      probe_with({probe_outcome::failed, "SO_ORIGINAL_DST of a redirected connection: Protocol not available"},
                 {probe_outcome::ok, "[::1]:9"});
  CHECK(format_line(check_original_destination(broken, false)) ==
        "FAIL  original destination ipv4: SO_ORIGINAL_DST of a redirected connection: Protocol not available; fix: "
        "load nf_conntrack and nf_nat (modprobe), which IPv4 NAT needs");

  namespace_probe_result no_nat{passed, {probe_outcome::failed, "EOPNOTSUPP"}, {}, {}};
  CHECK(check_nat(no_nat).verdict == level::fail);
  CHECK(check_nat(no_nat).text == "a nat chain cannot be created: EOPNOTSUPP");
  CHECK(check_original_destination(no_nat, false).verdict == level::warn);

  namespace_probe_result no_sandbox{
      {probe_outcome::failed, "unshare(CLONE_NEWNET): Operation not permitted"}, {}, {}, {}};
  CHECK(check_nat(no_sandbox).verdict == level::warn);
  CHECK(check_nat(no_sandbox).text == "not tested: unshare(CLONE_NEWNET): Operation not permitted");
}

TEST_CASE("conntrack fails when its sysctl is missing", "[doctor]") {
  CHECK(check_conntrack_present(std::nullopt).verdict == level::fail);
  CHECK(check_conntrack_present(std::nullopt).fix == "modprobe nf_conntrack");
  CHECK(check_conntrack_present(262144).verdict == level::ok);
}

TEST_CASE("capabilities fail without CAP_NET_ADMIN, and without CAP_NET_BIND_SERVICE for a low port", "[doctor]") {
  detour::config cfg;
  CHECK(format_line(check_capabilities(caps({cap_net_admin}), cfg, 1024)) ==
        "OK    capabilities: CAP_NET_ADMIN effective, port 15001 needs no CAP_NET_BIND_SERVICE");
  auto missing = check_capabilities(caps({cap_net_bind_service}), cfg, 1024);
  CHECK(missing.verdict == level::fail);
  CHECK(missing.text == "CAP_NET_ADMIN is not effective (the nftables rules and SO_MARK need it)");
  CHECK(missing.fix.find("AmbientCapabilities=CAP_NET_ADMIN") != std::string::npos);

  cfg.port = 80;
  CHECK(check_capabilities(caps({cap_net_admin}), cfg, 1024).text ==
        "port 80 is below net.ipv4.ip_unprivileged_port_start (1024) and CAP_NET_BIND_SERVICE is not effective");
  CHECK(check_capabilities(caps({cap_net_admin}), cfg, 80).verdict == level::ok);
  CHECK(check_capabilities(caps({cap_net_admin, cap_net_bind_service}), cfg, 1024).verdict == level::ok);

  cfg.port = 15001;
  cfg.intercept.enabled = false;
  cfg.mark = 0;
  CHECK(check_capabilities(0, cfg, 1024).verdict == level::ok);
}

TEST_CASE("descriptor limits warn when the hard limit allows fewer than 4096 connections", "[doctor]") {
  CHECK(check_descriptors({1024, 16384}).verdict == level::ok);
  CHECK(check_descriptors({1024, RLIM_INFINITY}).verdict == level::ok);
  auto low = check_descriptors({1024, 16383});
  CHECK(
      format_line(low) ==
      "WARN  descriptors: RLIMIT_NOFILE soft 1024 hard 16383; detourd raises the soft limit to the hard one, which "
      "allows 4095 connections (4 descriptors each); fix: raise the hard limit to at least 16384 (LimitNOFILE=1048576 "
      "in the systemd unit, or ulimit -Hn)");
}

TEST_CASE("pipe pages warn when fewer than 1024 relays fit unless the limit does not apply", "[doctor]") {
  pipe_page_budget b{16384, false, 4096, 256 * 1024};
  auto low = check_pipe_pages(b);
  CHECK(low.verdict == level::warn);
  CHECK(low.text.find("allows 128 relays") != std::string::npos);
  CHECK(low.fix == "sysctl -w fs.pipe-user-pages-soft=131072 (or 0 for no limit)");
  b.soft_limit_pages = 131072;
  CHECK(check_pipe_pages(b).verdict == level::ok);
  b.soft_limit_pages = 16384;
  b.exempt = true;
  CHECK(check_pipe_pages(b).verdict == level::ok);
  b.exempt = false;
  b.soft_limit_pages = 0;
  CHECK(check_pipe_pages(b).verdict == level::ok);
}

TEST_CASE("the conntrack table warns over 80 percent full", "[doctor]") {
  CHECK(check_conntrack_load(800, 1000).verdict == level::ok);
  auto full = check_conntrack_load(801, 1000);
  CHECK(full.verdict == level::warn);
  CHECK(full.text == "801 of nf_conntrack_max 1000 entries in use (80 %); once full, new connections are dropped");
  CHECK(check_conntrack_load(5, 0).verdict == level::ok);
}

TEST_CASE("the local port range warns under 16384 ports", "[doctor]") {
  CHECK(check_local_ports(49152, 65535).verdict == level::ok);
  CHECK(format_line(check_local_ports(60000, 60999)) ==
        "WARN  local ports: 1000 ports (net.ipv4.ip_local_port_range 60000-60999): at most 1000 connections open at "
        "once to one destination; fix: sysctl -w net.ipv4.ip_local_port_range=\"1024 65535\"");
}

TEST_CASE("nat chains of other tables before intercept.priority are named, ours and later ones are not", "[doctor]") {
  detour::config cfg;
  nat_chain_listing listing;
  listing.chains = {{"inet", "detour", "output", detour::rules::hook::output, -150},
                    {"ip", "late", "out", detour::rules::hook::output, 0},
                    {"ip", "same", "out", detour::rules::hook::output, -99}};
  CHECK(check_other_nat_chains(listing, cfg).verdict == level::ok);

  listing.chains.push_back({"ip", "other", "pre", detour::rules::hook::prerouting, -200});
  listing.chains.push_back({"ip6", "nat", "OUTPUT", detour::rules::hook::output, -100});
  auto early = check_other_nat_chains(listing, cfg);
  CHECK(early.verdict == level::warn);
  CHECK(early.text ==
        "table ip other chain pre (prerouting priority -200), table ip6 nat chain OUTPUT (output priority -100) see "
        "connections before detourd's chains (intercept.priority -99), and a redirect or dnat there wins");

  cfg.intercept.priority = -300;
  CHECK(check_other_nat_chains(listing, cfg).verdict == level::ok);

  listing.error = "listing the chains: Operation not permitted (EPERM)";
  CHECK(check_other_nat_chains(listing, cfg).verdict == level::warn);
}
