// `detourd doctor` against namespaces the test makes good or breaks: most checks read this
// namespace (port range, nat chains) and the process (capabilities), while the kernel test runs in
// a namespace the doctor makes for itself.
#include "support/detourd_process.hpp"
#include "support/netns.hpp"

#include <catch2/catch.hpp>

#include <sstream>

using namespace detour::test;

namespace {

// The doctor's line for `check` ("local ports"), or "" when it printed none.
std::string line_of(const finished_run& run, std::string_view check) {
  std::istringstream lines(run.out);
  for (std::string line; std::getline(lines, line);) {
    if (line.size() > 6 && line.compare(6, check.size(), check) == 0 && line[6 + check.size()] == ':') return line;
  }
  return {};
}

std::string level_of(const finished_run& run, std::string_view check) { return line_of(run, check).substr(0, 4); }

}  // namespace

TEST_CASE("detourd doctor in a namespace with nothing wrong exits 0 and passes the kernel checks", "[doctor]") {
  enter_new_netns();
  auto run = run_detourd({"doctor"});

  INFO(run.out << run.err);
  CHECK(run.exit_code == 0);
  CHECK(line_of(run, "nftables nat") ==
        "OK    nftables nat: a nat output chain with a redirect rule works (tested in a throw-away network namespace)");
  CHECK(line_of(run, "original destination ipv4") ==
        "OK    original destination ipv4: SO_ORIGINAL_DST gives back 127.0.0.1:9 of a redirected connection");
  CHECK(line_of(run, "original destination ipv6") ==
        "OK    original destination ipv6: SO_ORIGINAL_DST gives back [::1]:9 of a redirected connection");
  CHECK(line_of(run, "conntrack") == "OK    conntrack: nf_conntrack is loaded");
  CHECK(line_of(run, "capabilities") ==
        "OK    capabilities: CAP_NET_ADMIN effective, port 15001 needs no CAP_NET_BIND_SERVICE");
  CHECK(level_of(run, "conntrack table") == "OK  ");
  CHECK(level_of(run, "local ports") == "OK  ");
  CHECK(line_of(run, "other nat chains") ==
        "OK    other nat chains: none on the output or prerouting hook before intercept.priority -99");
  // Root: fs.pipe-user-pages-soft does not apply to it.
  CHECK(level_of(run, "pipe buffers") == "OK  ");
  // Nothing of the kernel test is left in the doctor's namespace.
  CHECK(sh("nft list tables").empty());
}

TEST_CASE("detourd doctor warns about a narrow port range or an earlier nat chain and still exits 0", "[doctor]") {
  struct breakage {
    std::string setup;
    std::string check;
    std::string line;
  };
  // -150 rather than -200: the kernel refuses a nat chain at or before conntrack's -200 (EOPNOTSUPP).
  auto broken = GENERATE(
      breakage{"sysctl -qw net.ipv4.ip_local_port_range='60000 60999'", "local ports",
               "WARN  local ports: 1000 ports (net.ipv4.ip_local_port_range 60000-60999): at most 1000 connections "
               "open at once to one destination; fix: sysctl -w net.ipv4.ip_local_port_range=\"1024 65535\""},
      breakage{"nft add table ip other && nft add chain ip other pre '{ type nat hook prerouting priority -150; }' && "
               "nft add chain ip other late '{ type nat hook output priority -110; }'",
               "other nat chains",
               "WARN  other nat chains: table ip other chain pre (prerouting priority -150) see connections before "
               "detourd's chains (intercept.priority -120), and a redirect or dnat there wins; fix: make sure they "
               "leave the traffic detourd captures alone, or set intercept.priority below theirs"});
  enter_new_netns();
  sh(broken.setup);
  // The priority comes from the file: with the default -99 the chain at -110 would be named too.
  temp_dir dir;
  auto file = dir.write("detour.yaml", "intercept:\n  priority: -120\n");
  auto run = run_detourd({"doctor", "-c", file.string()});

  INFO(run.out << run.err);
  CHECK(run.exit_code == 0);
  CHECK(line_of(run, broken.check) == broken.line);
}

TEST_CASE("detourd doctor without CAP_NET_ADMIN fails the capability check with its fix and exits 1", "[doctor]") {
  enter_new_netns();
  auto run =
      run_detourd({"doctor"}, 20s, {"/usr/bin/setpriv", "--bounding-set=-net_admin", "--inh-caps=-net_admin", "--"});

  INFO(run.out << run.err);
  CHECK(run.exit_code == 1);
  CHECK(line_of(run, "capabilities") ==
        "FAIL  capabilities: CAP_NET_ADMIN is not effective (the nftables rules and SO_MARK need it); fix: run as "
        "root, or grant the capability (AmbientCapabilities=CAP_NET_ADMIN CAP_NET_BIND_SERVICE in the systemd unit, "
        "or setcap on detourd)");
  CHECK(level_of(run, "other nat chains") == "WARN");
  // The kernel test still runs, in a user namespace of its own.
  CHECK(level_of(run, "nftables nat") == "OK  ");
}
