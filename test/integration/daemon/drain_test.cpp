// The stop with detourd's own rules: the rules go first, so new connections go direct while a
// transfer that was running finishes through detourd; a second signal resets what is left at once.
#include "support/detourd_process.hpp"
#include "support/netns.hpp"
#include "support/payload.hpp"
#include "support/tcp.hpp"

#include <fmt/format.h>
#include <catch2/catch.hpp>

#include <signal.h>

using namespace detour::test;

namespace {

// detourd in direct mode capturing every connection to 10.77.0.2 with the rules it installs.
struct own_rules_proxy {
  explicit own_rules_proxy(std::string_view drain_timeout)
      : port((setup(), free_port())), detourd(config(drain_timeout)) {}

  static void setup() {
    enter_new_netns();
    add_local_address("10.77.0.2/32");
  }
  std::string config(std::string_view drain_timeout) const {
    return fmt::format(
        "mode: direct\nport: {}\nworkers: 2\ndrain_timeout: {}\nadmin: {{listen: off}}\n"
        "intercept:\n  enabled: true\n  outbound: {{destinations: [10.77.0.2/32]}}\n",
        port, drain_timeout);
  }

  std::uint16_t port;
  detourd_process detourd;
};

bool table_installed() { return sh("nft list tables").find("inet detour") != std::string::npos; }

}  // namespace

TEST_CASE("a drain lets a 64 MiB transfer finish while new connections go direct", "[run]") {
  own_rules_proxy proxy("20s");
  sink_server sink(at("10.77.0.2", 0));
  echo_server other(at("10.77.0.2", 0));

  auto client = connect_to(sink.local_endpoint());
  sha1_hasher sent;
  const auto send_chunk = [&](int i) {
    const std::string chunk(std::size_t{1} << 20, static_cast<char>('a' + i % 26));
    sent.add(chunk);
    send_all(client.get(), chunk, 20s);
  };
  send_chunk(0);  // through detourd, before the stop

  proxy.detourd.send_signal(SIGTERM);
  REQUIRE(proxy.detourd.wait_for_log("rules: capture stopped"));
  // The table stays with no capture rule: removing the namespace's last nat rule would stop
  // connection tracking and reset the transfer below.
  CHECK(sh("nft list table inet detour").find("redirect to :" + std::to_string(proxy.port)) != std::string::npos);
  CHECK(sh("nft list table inet detour").find("\"draining\"") != std::string::npos);
  // Rules gone: a new connection reaches its destination itself, from its own port.
  auto direct = connect_and_echo(other.local_endpoint(), "direct");
  const auto direct_port = local_endpoint_of(direct.get()).port();
  direct.close();
  CHECK(other.wait_for_report().peer.port() == direct_port);

  for (int i = 1; i < 64; ++i) send_chunk(i);
  shutdown_write(client.get());
  auto answer = read_until_eof(client.get(), 20s);
  CHECK(answer.end == stream_end::eof);
  CHECK(answer.bytes == sent.hex() + "\n");
  CHECK(sent.size() == std::uint64_t{64} << 20);

  CHECK(proxy.detourd.wait_for_exit(20s) == 0);
  CHECK(proxy.detourd.stop_counter("relayed") == 1u);
  CHECK_FALSE(table_installed());
}

TEST_CASE("a second SIGTERM during the drain resets what is left and exits at once", "[run]") {
  own_rules_proxy proxy("60s");
  echo_server peer(at("10.77.0.2", 0));
  auto client = connect_and_echo(peer.local_endpoint(), "held");
  int signal = GENERATE(SIGTERM, SIGINT);

  proxy.detourd.send_signal(SIGTERM);
  REQUIRE(proxy.detourd.wait_for_log("draining for up to 60000ms"));
  const auto second = std::chrono::steady_clock::now();
  proxy.detourd.send_signal(signal);

  CHECK(read_until_eof(client.get(), 10s).end == stream_end::reset);
  CHECK(proxy.detourd.wait_for_exit(10s) == 0);
  CHECK(std::chrono::steady_clock::now() - second < 10s);
  CHECK(proxy.detourd.log().find("during the drain: resetting every connection now") != std::string::npos);
  CHECK(proxy.detourd.log().find("reason=shutdown") != std::string::npos);
  CHECK_FALSE(table_installed());
}
