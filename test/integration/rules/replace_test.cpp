#include "detour/config/config.hpp"
#include "detour/rules/nft_installer.hpp"
#include "detour/rules/render_nft.hpp"
#include "detour/rules/rule_plan.hpp"
#include "detour/rules/rules_commands.hpp"
#include "support/netns.hpp"
#include "support/capture.hpp"

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <sstream>
#include <thread>

using namespace detour;
using detour::test::connect_outcome;
using detour::test::enter_new_netns;
using detour::test::normalize_whitespace;
using detour::test::sh;

namespace {

config config_for_port(std::uint16_t port, std::string_view yaml = "") {
  auto cfg = parse_config(yaml, "test.yaml");
  cfg.port = port;
  return cfg;
}

std::string kernel_ruleset() {
  std::istringstream in(sh("nft -y list ruleset"));
  std::string kept, line;
  while (std::getline(in, line)) {
    if (auto comment = line.find(" # progname "); comment != std::string::npos) line.erase(comment);
    if (normalize_whitespace(line) == "flags owner") continue;
    kept += line + "\n";
  }
  return normalize_whitespace(kept);
}

// Connects `count` times to 192.0.2.9:80 and returns how many were refused, i.e. went direct.
int connect_loop(int count) {
  int refused = 0;
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_port = htons(80);
  ::inet_pton(AF_INET, "192.0.2.9", &sin.sin_addr);
  for (int i = 0; i < count; ++i) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&sin), sizeof sin) != 0) ++refused;
    ::close(fd);
  }
  return refused;
}

}  // namespace

TEST_CASE("replace swaps the ruleset in place, adding and dropping chains and sets", "[rules]") {
  enter_new_netns();
  sh("ip addr add 192.0.2.9/32 dev lo && ip addr add 198.51.100.7/32 dev lo");
  test::redirect_listener listener;
  auto first = rules::make_plan(config_for_port(listener.port(), "intercept: {outbound: {ports: [\"80\"], exclude_uids: [7]}}\n"));
  rules::owned_table guard(first);
  CHECK(connect_outcome(listener, "198.51.100.7", 443) == "not redirected");

  auto second = rules::make_plan(config_for_port(listener.port(), R"(
intercept:
  outbound: {ports: ["443"], exclude_destinations: [192.0.2.0/24]}
  inbound: {enabled: true, ports: ["8080"]}
)"));
  guard.replace(second);
  // The kernel holds the plan with its sets renamed to the new generation, and nothing else.
  CHECK(guard.plan().sets.size() == second.sets.size());
  CHECK(guard.plan().find_set("out_ports_g1"));
  CHECK(kernel_ruleset() == normalize_whitespace(rules::render_nft(guard.plan())));
  CHECK(connect_outcome(listener, "198.51.100.7", 443) == "redirected to 198.51.100.7:443");
  CHECK(connect_outcome(listener, "198.51.100.7", 80) == "not redirected");
  CHECK(connect_outcome(listener, "192.0.2.9", 443) == "not redirected");

  guard.replace(first);
  CHECK(guard.plan().find_set("out_exclude_uids_g2"));
  CHECK(kernel_ruleset() == normalize_whitespace(rules::render_nft(guard.plan())));
  CHECK(connect_outcome(listener, "198.51.100.7", 443) == "not redirected");
  CHECK(connect_outcome(listener, "198.51.100.7", 80) == "redirected to 198.51.100.7:80");
  CHECK(sh("nft list table inet detour").find("flags owner") != std::string::npos);
}

TEST_CASE("replace with another priority or table name re-creates the table in one batch", "[rules]") {
  enter_new_netns();
  sh("ip addr add 192.0.2.9/32 dev lo");
  test::redirect_listener listener;
  rules::owned_table guard(rules::make_plan(config_for_port(listener.port())));
  auto moved = rules::make_plan(config_for_port(listener.port(), "intercept: {priority: -110}\n"));
  guard.replace(moved);
  CHECK(kernel_ruleset() == normalize_whitespace(rules::render_nft(guard.plan())));
  CHECK(guard.plan().chains[0].priority == -110);
  CHECK(connect_outcome(listener, "192.0.2.9", 80) == "redirected to 192.0.2.9:80");

  auto renamed = rules::make_plan(config_for_port(listener.port(), "intercept: {table: other}\n"));
  guard.replace(renamed);
  CHECK(sh("nft list tables") == "table inet other\n");
  CHECK(kernel_ruleset() == normalize_whitespace(rules::render_nft(renamed)));
  CHECK(sh("nft list table inet other").find("flags owner") != std::string::npos);
  CHECK(connect_outcome(listener, "192.0.2.9", 80) == "redirected to 192.0.2.9:80");
}

TEST_CASE("a replace the kernel refuses leaves the previous rules in force", "[rules]") {
  enter_new_netns();
  auto plan = rules::make_plan(config_for_port(15001));
  rules::owned_table guard(plan);
  auto before = sh("nft list ruleset");
  auto bad = rules::make_plan(config_for_port(15001, "intercept: {inbound: {enabled: true}}\n"));
  bad.chains[1].priority = -300;
  CHECK_THROWS_WITH(guard.replace(bad),
                    "nftables: cannot create chain prerouting (type nat hook prerouting priority -300): Operation not "
                    "supported (EOPNOTSUPP); likely cause: the kernel refuses a nat chain at this priority (nat needs "
                    "a priority above -200) or lacks nat support (CONFIG_NFT_NAT); an existing chain's priority cannot "
                    "change in place; 3 later errors follow from it");
  // Including the sets staged for it: the kernel holds exactly what it held before.
  CHECK(sh("nft list ruleset") == before);
  CHECK(guard.plan() == plan);
}

TEST_CASE("replacing the rules under a connect loop sends no connection direct", "[rules]") {
  enter_new_netns();
  sh("ip addr add 192.0.2.9/32 dev lo");
  test::redirect_listener listener;
  auto a = rules::make_plan(config_for_port(listener.port(), "intercept: {outbound: {exclude_destinations: [198.51.100.0/24]}}\n"));
  auto b = rules::make_plan(config_for_port(listener.port(), R"(
intercept: {outbound: {ports: ["80", "443"], exclude_destinations: [203.0.113.0/24, "2001:db8::/32"]}}
)"));
  rules::owned_table guard(a);

  constexpr int connects = 4000;
  pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) ::_exit(std::min(connect_loop(connects), 255));

  std::atomic<bool> stop{false};
  std::atomic<int> accepted{0};
  std::thread acceptor([&] {
    while (!stop) {
      pollfd p{listener.fd(), POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      int fd = ::accept4(listener.fd(), nullptr, nullptr, SOCK_CLOEXEC);
      if (fd >= 0) {
        ++accepted;
        ::close(fd);
      }
    }
  });
  int replaces = 0;
  int status = 0;
  // Bounded both ways: the child makes a fixed number of connections, the loop a fixed maximum of
  // replaces.
  while (replaces < 20000 && ::waitpid(child, &status, WNOHANG) == 0) {
    guard.replace(replaces % 2 == 0 ? b : a);
    ++replaces;
  }
  if (replaces == 20000) ::waitpid(child, &status, 0);
  while (accepted < connects && listener.fd() >= 0) {
    pollfd p{listener.fd(), POLLIN, 0};
    if (::poll(&p, 1, 0) <= 0 && accepted >= connects) break;
    if (::poll(&p, 1, 1000) <= 0) break;
  }
  stop = true;
  acceptor.join();
  WARN(replaces << " replaces during " << connects << " connections");
  CHECK(replaces > 10);
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);  // connections refused = not redirected
}
