// Replacing the owned table's rules in one batch (what a config reload will do): chains and sets
// added and dropped, the table re-created when its name or priority changes, a refused replace
// leaving the old rules in force, and no connection slipping through while rules are swapped.
#include "support/capture.hpp"
#include "support/netns.hpp"
#include "support/nft.hpp"
#include "support/tcp.hpp"

#include "detour/rules/owned_table.hpp"
#include "detour/rules/render_nft.hpp"
#include "detour/rules/rule_plan.hpp"

#include <catch2/catch.hpp>

#include <poll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <thread>

using namespace detour;
using test::config_for_port;
using test::enter_new_netns;
using test::kernel_ruleset;
using test::normalize_whitespace;
using test::sh;

namespace {

// Connects `count` times to 192.0.2.9:80 and returns how many were refused, i.e. went direct.
int connect_loop(int count) {
  int refused = 0;
  auto to = test::at("192.0.2.9", 80);
  for (int i = 0; i < count; ++i) {
    test::socket_fd s(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (::connect(s.get(), to.data(), static_cast<socklen_t>(to.size())) != 0) ++refused;
  }
  return refused;
}

}  // namespace

TEST_CASE("replace swaps the ruleset in place, adding and dropping chains and sets", "[rules]") {
  test::capture_namespace ns({"192.0.2.9", "198.51.100.7"});
  auto first = ns.plan_for("intercept: {outbound: {ports: [\"80\"], exclude_uids: [7]}}\n");
  rules::owned_table guard(first);
  CHECK(ns.outcome("198.51.100.7", 443) == "not redirected");

  auto second = ns.plan_for(R"(
intercept:
  outbound: {ports: ["443"], exclude_destinations: [192.0.2.0/24]}
  inbound: {enabled: true, ports: ["8080"]}
)");
  guard.replace(second);
  // The kernel holds the plan with its sets renamed to the new generation, and nothing else.
  CHECK(guard.plan().sets.size() == second.sets.size());
  CHECK(guard.plan().find_set("out_ports_g1"));
  CHECK(kernel_ruleset() == normalize_whitespace(rules::render_nft(guard.plan())));
  CHECK(ns.outcome("198.51.100.7", 443) == "redirected to 198.51.100.7:443");
  CHECK(ns.outcome("198.51.100.7", 80) == "not redirected");
  CHECK(ns.outcome("192.0.2.9", 443) == "not redirected");

  guard.replace(first);
  CHECK(guard.plan().find_set("out_exclude_uids_g2"));
  CHECK(kernel_ruleset() == normalize_whitespace(rules::render_nft(guard.plan())));
  CHECK(ns.outcome("198.51.100.7", 443) == "not redirected");
  CHECK(ns.outcome("198.51.100.7", 80) == "redirected to 198.51.100.7:80");
  CHECK(sh("nft list table inet detour").find("flags owner") != std::string::npos);
}

TEST_CASE("replace re-creates a chain whose priority changes, and moves the rules to a renamed table", "[rules]") {
  test::capture_namespace ns({"192.0.2.9"});
  rules::owned_table guard(ns.plan_for());
  auto moved = ns.plan_for("intercept: {priority: -110}\n");
  guard.replace(moved);
  CHECK(kernel_ruleset() == normalize_whitespace(rules::render_nft(guard.plan())));
  CHECK(guard.plan().chains[0].priority == -110);
  CHECK(ns.outcome("192.0.2.9", 80) == "redirected to 192.0.2.9:80");

  auto renamed = ns.plan_for("intercept: {table: other}\n");
  guard.replace(renamed);
  CHECK(sh("nft list tables") == "table inet other\n");
  CHECK(kernel_ruleset() == normalize_whitespace(rules::render_nft(renamed)));
  CHECK(sh("nft list table inet other").find("flags owner") != std::string::npos);
  CHECK(ns.outcome("192.0.2.9", 80) == "redirected to 192.0.2.9:80");
}

TEST_CASE("a replace the kernel refuses leaves the previous rules in force", "[rules]") {
  enter_new_netns();
  auto port = test::free_port();
  auto plan = rules::make_plan(config_for_port(port));
  rules::owned_table guard(plan);
  auto before = sh("nft list ruleset");
  auto bad = rules::make_plan(config_for_port(port, "intercept: {inbound: {enabled: true}}\n"));
  bad.chains[1].priority = -300;
  CHECK_THROWS_WITH(guard.replace(bad),
                    "nftables: cannot create chain prerouting (type nat hook prerouting priority -300): Operation not "
                    "supported (EOPNOTSUPP); likely cause: the kernel refuses a nat chain at this priority (nat needs "
                    "a priority above -200) or lacks nat support (CONFIG_NFT_NAT); an existing chain's priority cannot "
                    "change in place; 4 later errors follow from it");
  // Including the sets staged for it: the kernel holds exactly what it held before.
  CHECK(sh("nft list ruleset") == before);
  CHECK(guard.plan() == plan);
}

TEST_CASE("replacing the rules under a connect loop sends no connection direct", "[rules]") {
  test::capture_namespace ns({"192.0.2.9"});
  auto a = ns.plan_for("intercept: {outbound: {exclude_destinations: [198.51.100.0/24]}}\n");
  auto b = ns.plan_for(R"(
intercept: {outbound: {ports: ["80", "443"], exclude_destinations: [203.0.113.0/24, "2001:db8::/32"]}}
)");
  rules::owned_table guard(a);

  constexpr int connects = 4000;
  pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) ::_exit(std::min(connect_loop(connects), 255));

  std::atomic<bool> stop{false};
  std::atomic<int> accepted{0};
  std::thread acceptor([&] {
    while (!stop) {
      pollfd p{ns.listener.fd(), POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      int fd = ::accept4(ns.listener.fd(), nullptr, nullptr, SOCK_CLOEXEC);
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
  while (accepted < connects && ns.listener.fd() >= 0) {
    pollfd p{ns.listener.fd(), POLLIN, 0};
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
