// detourd's command line as an operator meets it: config validation and startup failures that
// say what is wrong, and a clean stop.
#include "support/detourd_process.hpp"
#include "support/netns.hpp"
#include "support/tcp.hpp"

#include <catch2/catch.hpp>

#include <netinet/in.h>
#include <sys/socket.h>

using namespace detour::test;

TEST_CASE("detourd check accepts the documented config/detour.yaml", "[core]") {
  auto run = run_detourd({"check", "-c", DETOUR_SOURCE_DIR "/config/detour.yaml"});
  CHECK(run.exit_code == 0);
}

TEST_CASE("detourd check refuses a bad config and says where and why", "[core]") {
  temp_dir dir;

  SECTION("a value out of range") {
    auto file = dir.write("bad.yaml", "mode: echo\nport: 70000\n");
    auto run = run_detourd({"check", "-c", file.string()});
    CHECK(run.exit_code == 1);
    CHECK(run.err == "detourd: " + file.string() + ":2:7: port: expected an integer from 1 to 65535, got \"70000\"\n");
  }
  SECTION("an unknown key") {
    auto file = dir.write("bad.yaml", "mode: echo\nlog:\n  levle: debug\n");
    auto run = run_detourd({"check", "-c", file.string()});
    CHECK(run.exit_code == 1);
    CHECK(run.err == "detourd: " + file.string() + ":3:3: log.levle: unknown key (known: level)\n");
  }
  SECTION("a missing file") {
    auto file = dir.path() / "missing.yaml";
    auto run = run_detourd({"check", "-c", file.string()});
    CHECK(run.exit_code == 1);
    CHECK(run.err == "detourd: " + file.string() + ": cannot open: No such file or directory\n");
  }
}

TEST_CASE("detourd version prints the project version", "[core]") {
  auto run = run_detourd({"version"});
  CHECK(run.exit_code == 0);
  CHECK(run.out.find(DETOUR_VERSION) != std::string::npos);
}

TEST_CASE("detourd run exits non-zero and names the port when the port is in use", "[core]") {
  enter_new_netns();
  auto port = free_port();
  // A plain listener without SO_REUSEPORT: detourd's reuseport listeners cannot share its port.
  auto holder = socket_fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  auto address = at("0.0.0.0", port);
  REQUIRE(::bind(holder.get(), address.data(), static_cast<socklen_t>(address.size())) == 0);
  REQUIRE(::listen(holder.get(), 1) == 0);

  temp_dir dir;
  auto file = dir.write("detour.yaml", test_config(port, "direct"));
  auto run = run_detourd({"run", "-c", file.string()});

  CHECK(run.exit_code != 0);
  CHECK(run.err.find(std::to_string(port)) != std::string::npos);
  CHECK(run.err.find("Address already in use") != std::string::npos);
}

TEST_CASE("detourd stops on SIGTERM with exit 0 and a line of counters", "[core]") {
  enter_new_netns();
  auto port = free_port();
  redirect_outgoing_tcp_to(port);
  detourd_process detourd(test_config(port, "echo"));

  CHECK(detourd.stop() == 0);
  CHECK(detourd.last_log_line().find(
            "detourd: stopped: accepted=0 relayed=0 not_redirected=0 loops=0 upstream_failures=0") !=
        std::string::npos);
}
