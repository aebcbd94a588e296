// What detourd tells its service manager over NOTIFY_SOCKET (sd_notify), read from a test-owned
// socket, and what the test harness gives the detourd it starts.
#include "support/deadline.hpp"
#include "support/detourd_process.hpp"
#include "support/netns.hpp"
#include "support/notify_socket.hpp"
#include "support/tcp.hpp"

#include <catch2/catch.hpp>

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <iterator>

using namespace detour::test;

namespace {

// The NUL-separated entries of /proc/PID/environ.
std::vector<std::string> environment_of(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/environ");
  std::vector<std::string> entries;
  for (std::string entry; std::getline(in, entry, '\0');) entries.push_back(entry);
  return entries;
}

std::ptrdiff_t first_containing(const std::vector<std::string>& messages, std::string_view needle) {
  auto it = std::find_if(messages.begin(), messages.end(),
                         [&](const std::string& m) { return m.find(needle) != std::string::npos; });
  return it == messages.end() ? -1 : std::distance(messages.begin(), it);
}

}  // namespace

TEST_CASE("detourd says READY=1 with a status once it listens, and STOPPING=1 when it is stopped", "[run]") {
  enter_new_netns();
  auto port = free_port();
  detourd_process detourd(test_config(port, "echo"));
  auto ready = first_containing(detourd.notifications(), "READY=1");
  REQUIRE(ready >= 0);
  CHECK(detourd.notifications()[static_cast<std::size_t>(ready)].find("STATUS=relaying on port " +
                                                                      std::to_string(port)) != std::string::npos);
  CHECK(first_containing(detourd.notifications(), "STOPPING=1") == -1);

  CHECK(detourd.stop() == 0);
  CHECK(first_containing(detourd.notifications(), "STOPPING=1") > ready);
}

TEST_CASE("a detourd started with extra environment has it, and none of the test's own service variables", "[run]") {
  enter_new_netns();
  // This process is the test case's alone (each case runs in a process of its own).
  ::setenv("WATCHDOG_PID", "1", 1);
  ::setenv("DETOUR_TEST_VALUE", "inherited", 1);
  detourd_process detourd(test_config(free_port(), "echo"), {}, 20s, {}, {"DETOUR_TEST_VALUE=given"});
  auto env = environment_of(detourd.pid());

  CHECK(std::count(env.begin(), env.end(), "DETOUR_TEST_VALUE=given") == 1);
  CHECK(std::count(env.begin(), env.end(), "DETOUR_TEST_VALUE=inherited") == 0);
  CHECK(std::none_of(env.begin(), env.end(), [](const std::string& e) { return e.starts_with("WATCHDOG_PID="); }));
  CHECK(std::count_if(env.begin(), env.end(), [](const std::string& e) { return e.starts_with("NOTIFY_SOCKET="); }) ==
        1);
}

TEST_CASE("the test's notify socket records every message in order, also from a process running as nobody", "[run]") {
  notify_socket notify;
  for (const char* status : {"STATUS=one", "STATUS=two\nREADY=1"}) {
    int devnull = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
    REQUIRE(devnull >= 0);
    // --no-block: systemd-notify would otherwise wait for systemd to acknowledge the message.
    child_process sender({"/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--",
                          "/usr/bin/systemd-notify", "--no-block", status},
                         devnull, devnull, {notify.environment_entry()});
    ::close(devnull);
    REQUIRE(sender.wait(10s) == 0);
    REQUIRE(notify.wait_for(status, 10s));
  }

  CHECK(notify.messages() == std::vector<std::string>{"STATUS=one", "STATUS=two\nREADY=1"});
  CHECK_FALSE(notify.wait_for("STOPPING=1", 0ms));
}

TEST_CASE("detourd tells systemd READY, RELOADING then READY around a reload, WATCHDOG while it runs, STOPPING",
          "[run]") {
  enter_new_netns();
  auto port = free_port();
  detourd_process detourd(test_config(port, "echo"), {}, 20s, {}, {"WATCHDOG_USEC=400000"});
  REQUIRE(detourd.wait_for_log("systemd watchdog: pinging every 200ms while every worker ticks"));
  // Pings arrive while every worker ticks (the default tick is 1 s here, the ping period 200 ms).
  REQUIRE(poll_until(
      [&] {
        const auto m = detourd.notifications();
        return std::count(m.begin(), m.end(), "WATCHDOG=1") >= 3;
      },
      5s));

  detourd.send_signal(SIGHUP);
  REQUIRE(detourd.wait_for_log("detourd: reload (SIGHUP): config 2 applied"));
  REQUIRE(detourd.wait_for_notification("STATUS=relaying on port", 5s));
  CHECK(detourd.stop() == 0);

  const auto m = detourd.notifications();
  const auto ready = first_containing(m, "READY=1");
  const auto reloading = first_containing(m, "RELOADING=1");
  REQUIRE(ready >= 0);
  REQUIRE(reloading > ready);
  CHECK(m[static_cast<std::size_t>(ready)].find("STATUS=relaying on port " + std::to_string(port) +
                                                " (echo mode): 0 active, 0 accepted") != std::string::npos);
  // RELOADING=1 carries the monotonic clock, as systemd's reload protocol asks.
  CHECK(m[static_cast<std::size_t>(reloading)].find("\nMONOTONIC_USEC=") != std::string::npos);
  const auto ready_again = std::find(m.begin() + reloading, m.end(), "READY=1");
  REQUIRE(ready_again != m.end());
  const auto stopping = first_containing(m, "STOPPING=1");
  CHECK(stopping > std::distance(m.begin(), ready_again));
  // Pings before and after the reload.
  CHECK(std::find(m.begin() + ready, m.begin() + reloading, "WATCHDOG=1") != m.begin() + reloading);
  CHECK(std::find(ready_again, m.end(), "WATCHDOG=1") != m.end());
}
