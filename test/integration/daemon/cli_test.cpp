// detourd's command line as an operator meets it: config validation and startup failures that
// say what is wrong, and a clean stop.
#include "support/detourd_process.hpp"
#include "support/netns.hpp"
#include "support/tcp.hpp"

#include <catch2/catch.hpp>

#include <netinet/in.h>
#include <signal.h>
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
  temp_dir dir;
  auto file = dir.write("detour.yaml", test_config(port, "direct"));
  // A plain listener without SO_REUSEPORT: detourd's reuseport listeners cannot share its port.
  auto [family, any, shown] = GENERATE(table<int, const char*, const char*>({
      {AF_INET, "0.0.0.0", "0.0.0.0"},
      {AF_INET6, "::", "[::]"},
  }));
  auto holder = socket_fd(::socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0));
  int on = 1;
  if (family == AF_INET6) ::setsockopt(holder.get(), IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof on);
  auto address = at(any, port);
  REQUIRE(::bind(holder.get(), address.data(), static_cast<socklen_t>(address.size())) == 0);
  REQUIRE(::listen(holder.get(), 1) == 0);

  auto run = run_detourd({"run", "-c", file.string()});

  CHECK(run.exit_code == 1);
  CHECK(run.err == fmt::format("detourd: listen on {}:{}: bind: Address already in use (another process is "
                               "listening on that port; choose another with --port or `port:`)\n",
                               shown, port));
}

TEST_CASE("detourd stops on SIGTERM or SIGINT with exit 0 and a line of counters", "[core]") {
  enter_new_netns();
  auto port = free_port();
  redirect_outgoing_tcp_to(port);
  detourd_process detourd(test_config(port, "echo"));
  int signal = GENERATE(SIGTERM, SIGINT);

  CHECK(detourd.stop(20s, signal) == 0);
  CHECK(detourd.last_log_line().find(
            "detourd: stopped: accepted=0 relayed=0 not_redirected=0 loops=0 upstream_failures=0") !=
        std::string::npos);
}

TEST_CASE("detourd listens on 0.0.0.0 and :: with one socket per worker", "[core]") {
  enter_new_netns();
  auto port = free_port();
  detourd_process detourd(test_config(port, "echo"), {"--workers", "3"});

  auto listeners = sh(fmt::format("ss -Hltn 'sport = :{}'", port));
  auto count = [&](std::string_view local) {
    std::size_t n = 0;
    for (auto at = listeners.find(local); at != std::string::npos; at = listeners.find(local, at + 1)) ++n;
    return n;
  };
  INFO(listeners);
  CHECK(count(fmt::format("0.0.0.0:{} ", port)) == 3);
  CHECK(count(fmt::format("[::]:{} ", port)) == 3);
}

TEST_CASE("the command line's --mode and --port override the config file", "[core]") {
  enter_new_netns();
  auto config_port = free_port();
  auto port = free_port();
  redirect_outgoing_tcp_to(port);
  detourd_process detourd(test_config(config_port, "reject"), {"--mode", "echo", "--port", std::to_string(port)});

  auto got = read_answer_and_close(connect_to(at("127.0.0.1", 80)));
  CHECK(got.reply.end == stream_end::eof);
  CHECK(got.reply.bytes.find(fmt::format("dest{{ip: 127.0.0.1, port: {}}}; original dest{{ip: 127.0.0.1, port: 80}}\n",
                                      port)) != std::string::npos);
}

TEST_CASE("detourd run without CAP_NET_ADMIN exits non-zero and says the mark needs it", "[core]") {
  enter_new_netns();
  temp_dir dir;
  auto file = dir.write("detour.yaml", test_config(free_port(), "direct"));
  // Root without these in its bounding set gets neither after exec. SO_MARK accepts CAP_NET_RAW
  // as well since Linux 5.17, so both go.
  auto run = run_detourd({"run", "-c", file.string()}, 5s,
                         {"/usr/bin/setpriv", "--bounding-set=-net_admin,-net_raw", "--inh-caps=-net_admin,-net_raw",
                          "--"});

  CHECK(run.exit_code == 1);
  CHECK(run.err ==
        "detourd: mark 0x1d7: setting SO_MARK failed: Operation not permitted (needs CAP_NET_ADMIN: run as root or "
        "grant the capability, or set mark: 0 and exclude detourd's user with intercept.exclude_self_uid)\n");
}
