// detourd started as root with `user:` ends up as that user in every thread, holding only the
// capabilities it still needs, and goes on relaying through the rules it installed before.
#include "support/detourd_process.hpp"
#include "support/netns.hpp"
#include "support/nft.hpp"
#include "support/tcp.hpp"

#include "detour/config/config.hpp"
#include "detour/rules/render_nft.hpp"
#include "detour/rules/rule_plan.hpp"

#include <fmt/format.h>
#include <catch2/catch.hpp>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

using namespace detour::test;

namespace {

// detourd with its own capture rules on (the default outbound chain), unlike test_config().
std::string capturing_config(std::uint16_t port, std::string_view more = "") {
  return fmt::format("mode: direct\nport: {}\nworkers: 2\nadmin: {{listen: off}}\n{}", port, more);
}

// The identity and capability lines of one /proc/PID/status or /proc/PID/task/TID/status.
std::map<std::string, std::string> identity_of(const std::filesystem::path& status) {
  std::map<std::string, std::string> out;
  std::ifstream in(status);
  for (std::string line; std::getline(in, line);) {
    const auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    auto key = line.substr(0, colon);
    if (key == "Uid" || key == "Gid" || key == "Groups" || key.rfind("Cap", 0) == 0) {
      const auto value = line.find_first_not_of(" \t", colon + 1);
      out[key] = value == std::string::npos ? "" : line.substr(value);
    }
  }
  return out;
}

// The process's status and every thread's: capabilities are per thread, so each must be checked.
std::vector<std::map<std::string, std::string>> every_thread_of(pid_t pid) {
  const std::filesystem::path proc = fmt::format("/proc/{}", pid);
  std::vector<std::map<std::string, std::string>> out{identity_of(proc / "status")};
  for (const auto& task : std::filesystem::directory_iterator(proc / "task")) {
    out.push_back(identity_of(task.path() / "status"));
  }
  return out;
}

// Every thread of `pid` runs as nobody (65534, its supplementary groups `groups`: by default
// nogroup only) with exactly `capabilities` (CapEff's hex) permitted and effective, nothing
// inheritable or ambient. Returns how many statuses were read.
std::size_t check_runs_as_nobody(pid_t pid, const std::string& capabilities, const std::string& groups = "65534 ") {
  auto threads = every_thread_of(pid);
  for (const auto& t : threads) {
    CHECK(t.at("Uid") == "65534\t65534\t65534\t65534");
    CHECK(t.at("Gid") == "65534\t65534\t65534\t65534");
    CHECK(t.at("Groups") == groups);
    CHECK(t.at("CapEff") == capabilities);
    CHECK(t.at("CapPrm") == capabilities);
    CHECK(t.at("CapInh") == "0000000000000000");
    CHECK(t.at("CapAmb") == "0000000000000000");
  }
  return threads.size();
}

}  // namespace

TEST_CASE("detourd with user: nobody keeps only cap_net_admin in every thread and still relays", "[privileges]") {
  enter_new_netns();
  add_local_address("10.77.0.2/32");
  const auto port = free_port();
  const auto yaml = capturing_config(port, "user: nobody\n");
  detourd_process detourd(yaml);
  REQUIRE(detourd.wait_for_log("detourd: running as nobody (uid 65534, gid 65534) with cap_net_admin\n"));

  // The main thread and both workers at least.
  CHECK(check_runs_as_nobody(detourd.pid(), "0000000000001000") >= 3);
  // Installed as root before the switch, and still there.
  const auto expected = detour::rules::render_nft(detour::rules::make_plan(detour::parse_config(yaml, "t.yaml")));
  CHECK(kernel_ruleset() == normalize_whitespace(expected));
  CHECK_THAT(expected, Catch::Contains("meta skuid 65534 counter return comment \"exclude_run_user\""));

  // This test runs as root, so its connection is captured; detourd's own, as nobody and marked, is
  // not, and reaches the server.
  echo_server upstream(at("10.77.0.2", 0));
  { auto client = connect_and_echo(upstream.local_endpoint(), "through detourd"); }

  // As nobody, a reload still replaces the rules, over the netlink socket opened as root and with
  // the one capability kept. nobody must be able to read the file again.
  const auto file = detourd.config_file();
  std::filesystem::permissions(file.parent_path(), std::filesystem::perms::others_exec,
                               std::filesystem::perm_options::add);
  std::ofstream(file, std::ios::trunc) << capturing_config(port,
                                                           "user: nobody\nintercept:\n  outbound:\n"
                                                           "    exclude_ports: [\"9\"]\n");
  std::filesystem::permissions(file, std::filesystem::perms::others_read, std::filesystem::perm_options::add);
  detourd.send_signal(SIGHUP);
  REQUIRE(detourd.wait_for_log("rules replaced"));
  CHECK_THAT(sh("nft list table inet detour"), Catch::Contains("comment \"exclude_ports\""));
  CHECK(check_runs_as_nobody(detourd.pid(), "0000000000001000") >= 3);
  { auto client = connect_and_echo(upstream.local_endpoint(), "after the reload"); }
  CHECK(detourd.stop() == 0);
  CHECK(detourd.stop_counter("relayed") == 2u);
}

TEST_CASE("detourd as nobody on a port below 1024 keeps cap_net_bind_service too", "[privileges]") {
  enter_new_netns();
  // Binding port 0 never yields a port below 1024; this namespace is the test's own and fresh, so
  // nothing else can hold 443 in it.
  detourd_process detourd(capturing_config(443, "user: nobody\n"));
  REQUIRE(detourd.wait_for_log("with cap_net_admin, cap_net_bind_service\n"));
  CHECK(check_runs_as_nobody(detourd.pid(), "0000000000001400") >= 3);
}

TEST_CASE("detourd started as its user with ambient capabilities only narrows them to cap_net_admin", "[privileges]") {
  enter_new_netns();
  // As systemd's User=nobody with AmbientCapabilities=CAP_NET_ADMIN CAP_NET_RAW would start it.
  detourd_process detourd(capturing_config(free_port(), "user: nobody\n"), {}, 20s,
                          {"/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                           "--inh-caps=+net_admin,+net_raw", "--ambient-caps=+net_admin,+net_raw", "--"});
  REQUIRE(detourd.wait_for_log("detourd: running as nobody (uid 65534, gid 65534) with cap_net_admin\n"));
  // The groups stay as the launcher left them (none): changing them needs CAP_SETGID.
  CHECK(check_runs_as_nobody(detourd.pid(), "0000000000001000", "") >= 3);
  CHECK_THAT(kernel_ruleset(), Catch::Contains("exclude_run_user"));
}

TEST_CASE("detourd run --user with an unknown name exits 1 naming it, and installs nothing", "[privileges]") {
  enter_new_netns();
  temp_dir dir;
  auto file = dir.write("detour.yaml", capturing_config(free_port()));
  auto run = run_detourd({"run", "-c", file.string(), "--user", "no-such-user-here"});
  CHECK(run.exit_code == 1);
  CHECK(run.err == "detourd: --user: no such user \"no-such-user-here\" on this host (a name or a numeric uid)\n");
  CHECK(kernel_ruleset().empty());
}

TEST_CASE("detourd started as another user cannot switch to user: and says so, leaving no rules", "[privileges]") {
  enter_new_netns();
  temp_dir dir;
  std::filesystem::permissions(dir.path(), std::filesystem::perms::others_read | std::filesystem::perms::others_exec,
                               std::filesystem::perm_options::add);
  auto file = dir.write("detour.yaml", capturing_config(free_port(), "user: nobody\n"));
  // Enough to mark sockets and install the rules, not to change its user.
  auto run = run_detourd({"run", "-c", file.string()}, 20s,
                         {"/usr/bin/setpriv", "--reuid=1000", "--regid=1000", "--clear-groups", "--inh-caps=+net_admin",
                          "--ambient-caps=+net_admin", "--"});
  CHECK(run.exit_code == 1);
  CHECK_THAT(run.err, Catch::EndsWith("detourd: user: nobody: cannot switch from uid 1000: Operation not permitted; "
                                      "start detourd as root or drop `user:`\n"));
  CHECK(kernel_ruleset().empty());
}
