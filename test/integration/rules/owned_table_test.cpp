// The owned table detourd run holds: installed with the owner flag, so the kernel removes it when
// its owner dies however it dies, removed by its guard on a clean exit, and replacing a stale
// un-owned table of the same name.
#include "support/capture.hpp"
#include "support/detourd_process.hpp"
#include "support/netns.hpp"
#include "support/nft.hpp"
#include "support/tcp.hpp"

#include "detour/rules/nft_installer.hpp"
#include "detour/rules/owned_table.hpp"
#include "detour/rules/rule_plan.hpp"

#include <fmt/format.h>
#include <catch2/catch.hpp>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <optional>

using namespace detour;
using namespace detour::test;

namespace {

std::string tables() { return sh("nft list tables"); }

// Forks a child that installs an owned table, reports through a pipe, and waits to be killed.
pid_t child_owning_table(const rules::rule_plan& plan) {
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    ::close(fds[0]);
    // The installer must outlive the pause: its socket is what keeps the table.
    std::optional<rules::nft_installer> installer;
    try {
      installer.emplace();
      installer->install(plan, rules::ownership::owner);
    } catch (...) {
      ::_exit(1);
    }
    char ok = 'y';
    if (::write(fds[1], &ok, 1) != 1) ::_exit(2);
    for (;;) ::pause();
  }
  ::close(fds[1]);
  char ok = 0;
  REQUIRE(::read(fds[0], &ok, 1) == 1);
  ::close(fds[0]);
  return child;
}

// detourd run with its built-in rule installer on, as the default config has it.
std::string capturing_config(std::uint16_t port, std::string_view mode) {
  return fmt::format("mode: {}\nport: {}\nworkers: 1\n", mode, port);
}

}  // namespace

TEST_CASE("an owned table disappears when its owner is killed with SIGKILL", "[rules]") {
  enter_new_netns();
  auto plan = rules::make_plan(config_for_port(test::free_port()));
  pid_t child = child_owning_table(plan);
  CHECK(tables() == "table inet detour\n");
  CHECK(table_header("detour").find("\n\tflags owner\n") != std::string::npos);
  ::kill(child, SIGKILL);
  int status = 0;
  ::waitpid(child, &status, 0);
  CHECK(tables() == "");
}

TEST_CASE("an owned table is removed when its guard is destroyed", "[rules]") {
  enter_new_netns();
  {
    auto guard = rules::install_owned_rules(config_for_port(test::free_port()));
    REQUIRE(guard);
    CHECK(tables() == "table inet detour\n");
  }
  CHECK(tables() == "");
}

TEST_CASE("with intercept disabled the guard installs nothing", "[rules]") {
  enter_new_netns();
  auto guard = rules::install_owned_rules(config_for_port(test::free_port(), "intercept: {enabled: false}\n"));
  CHECK_FALSE(guard);
  CHECK(tables() == "");
}

TEST_CASE("a stale un-owned table left by rules install is replaced by the owned one", "[rules]") {
  enter_new_netns();
  auto cfg = config_for_port(test::free_port());
  sh("nft 'add table inet detour; add chain inet detour stale { type nat hook output priority -99; }; "
     "add rule inet detour stale tcp dport 80 redirect to :9'");
  {
    rules::owned_table guard(rules::make_plan(cfg));
    auto listing = sh("nft list table inet detour");
    CHECK(listing.find("flags owner") != std::string::npos);
    CHECK(listing.find("stale") == std::string::npos);
    CHECK(tables() == "table inet detour\n");
  }
  CHECK(tables() == "");
}

TEST_CASE("detourd run captures outbound connections and kill -9 leaves no rule behind", "[rules]") {
  enter_new_netns();
  sh("ip addr add 192.0.2.9/32 dev lo");
  detourd_process detourd(capturing_config(free_port(), "echo"));
  CHECK(tables() == "table inet detour\n");
  CHECK(read_or_connect_error(at("192.0.2.9", 80)).find("original dest{ip: 192.0.2.9, port: 80}") != std::string::npos);
  CHECK(detourd.stop(20s, SIGKILL) == 128 + SIGKILL);
  CHECK(tables() == "");
  CHECK(read_or_connect_error(at("192.0.2.9", 80)) == "connect: Connection refused");
}

TEST_CASE("detourd stopped by SIGTERM removes its rules", "[rules]") {
  enter_new_netns();
  detourd_process detourd(capturing_config(free_port(), "echo"));
  CHECK(tables() == "table inet detour\n");
  CHECK(detourd.stop() == 0);
  CHECK(tables() == "");
}

TEST_CASE("detourd relays a captured connection to its original destination, its own connection not captured",
          "[rules]") {
  enter_new_netns();
  sh("ip addr add 192.0.2.9/32 dev lo");
  // The "remote" server: answers one line on 192.0.2.9. detourd's upstream connection to it
  // carries the mark, so the rules leave it alone instead of sending it back into detourd.
  tcp_server server(at("192.0.2.9", 0), [](int fd) {
    send_all(fd, "hello from 192.0.2.9\n");
    return received_digest{};
  });
  detourd_process detourd(capturing_config(free_port(), "direct"));
  CHECK(read_or_connect_error(server.local_endpoint()) == "hello from 192.0.2.9\n");
  CHECK(detourd.wait_for_log(fmt::format("-> 192.0.2.9:{}]", server.port())));
}
