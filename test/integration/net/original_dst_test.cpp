// Redirected connections reach their original destination through detourd, in both families and
// for loopback as well as other local addresses (the nat output hook, as on a workstation), and
// from another host (the prerouting hook, as on a gateway: here another namespace on a veth link),
// where they arrive at the incoming interface's address, not loopback, and detourd's 0.0.0.0 and
// :: listeners take them as well.
#include "support/detourd_process.hpp"
#include "support/netns.hpp"
#include "support/nft.hpp"
#include "support/tcp.hpp"

#include "detour/net/sockaddr.hpp"

#include <catch2/catch.hpp>

using namespace detour::test;

namespace {

// One connection through the proxy to a sink server at `address`: what the client sent arrives
// upstream intact, and the sink's answer comes back.
void check_relayed_to(std::string_view address) {
  auto port = free_port();
  redirect_output(port);
  sink_server upstream(at(address, 0));
  detourd_process detourd(test_config(port, "direct"));

  payload sent(1, 256 * 1024);
  auto got = send_and_read_answer(connect_to(upstream.local_endpoint()), sent);

  CHECK(got.reply.end == stream_end::eof);
  CHECK(got.reply.bytes == sent.sha1() + "\n");
  auto seen = upstream.wait_for_report();
  CHECK(seen.received.size == sent.size());
  CHECK(seen.received.end == stream_end::eof);
  // It was detourd that connected upstream, not the client itself: the client's own port went to
  // the proxy listener.
  CHECK(seen.peer.port() != got.client.port());
  CHECK(detourd.wait_for_log(fmt::format("-> {}] direct closed", detour::net::to_string(upstream.local_endpoint()))));
  CHECK(detourd.stop() == 0);
  CHECK(detourd.stop_counter("relayed") == 1u);
  // detourd's own upstream connection carried the mark, so the rule let it pass instead of
  // sending it back into detourd.
  CHECK(detourd.stop_counter("loops") == 0u);
}

}  // namespace

TEST_CASE("a connection to 127.0.0.1 redirected in the output hook reaches its original destination", "[net]") {
  enter_new_netns();
  check_relayed_to("127.0.0.1");
}

TEST_CASE("a connection to another local IPv4 address reaches its original destination", "[net]") {
  enter_new_netns();
  add_local_address("10.77.0.2/32");
  check_relayed_to("10.77.0.2");
}

TEST_CASE("a connection to ::1 redirected in the output hook reaches its original destination", "[net]") {
  enter_new_netns();
  check_relayed_to("::1");
}

TEST_CASE("a connection to another local IPv6 address reaches its original destination", "[net]") {
  enter_new_netns();
  add_local_address("fd77::2/128");
  check_relayed_to("fd77::2");
}

TEST_CASE("a connection from another host redirected in prerouting gets the echo line", "[net]") {
  enter_new_netns();
  peer_netns peer;
  link_by_veth(peer, "detour-veth0", "10.88.0", "fd88");
  auto port = free_port();
  redirect_input(port, "detour-veth0");
  detourd_process detourd(test_config(port, "echo"));

  auto [original, listener_address, client_address] = GENERATE(table<const char*, const char*, const char*>({
      {"203.0.113.5", "10.88.0.1", "10.88.0.2"},
      {"2001:db8:ffff::5", "fd88::1", "fd88::2"},
  }));
  auto got = read_answer_and_close(peer.inside([&] { return connect_to(at(original, 443)); }));

  CHECK(got.reply.end == stream_end::eof);
  CHECK(got.reply.bytes == fmt::format("source{{ip: {}, port: {}}};  dest{{ip: {}, port: {}}}; "
                                       "original dest{{ip: {}, port: 443}}\n",
                                       client_address, got.client.port(), listener_address, port, original));
  CHECK(detourd.stop() == 0);
}

TEST_CASE("a connection from another host redirected in prerouting reaches its original destination", "[net]") {
  enter_new_netns();
  peer_netns peer;
  link_by_veth(peer, "detour-veth0", "10.88.0", "fd88");
  add_local_address("10.77.0.2/32");
  auto port = free_port();
  redirect_input(port, "detour-veth0");
  sink_server upstream(at("10.77.0.2", 0));
  detourd_process detourd(test_config(port, "direct"));

  payload sent(7, 100'000);
  auto got = send_and_read_answer(peer.inside([&] { return connect_to(upstream.local_endpoint()); }), sent);

  CHECK(got.reply.end == stream_end::eof);
  CHECK(got.reply.bytes == sent.sha1() + "\n");
  CHECK(detourd.stop() == 0);
  CHECK(detourd.stop_counter("relayed") == 1u);
}
