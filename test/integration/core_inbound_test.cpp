// Connections from another host (here: another namespace on a veth link) redirected in the nat
// prerouting hook arrive at the incoming interface's address, not loopback: detourd's 0.0.0.0
// and :: listeners take them as well.
#include "support/detourd_process.hpp"
#include "support/netns.hpp"
#include "support/tcp.hpp"

#include <catch2/catch.hpp>

using namespace detour::test;

TEST_CASE("a connection from another host redirected in prerouting gets the echo line", "[core]") {
  enter_new_netns();
  veth_peer peer;
  auto port = free_port();
  redirect_incoming_tcp_to(port, veth_peer::interface);
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

TEST_CASE("a connection from another host redirected in prerouting reaches its original destination", "[core]") {
  enter_new_netns();
  veth_peer peer;
  add_local_address("10.77.0.2/32");
  auto port = free_port();
  redirect_incoming_tcp_to(port, veth_peer::interface);
  sink_server upstream(at("10.77.0.2", 0));
  detourd_process detourd(test_config(port, "direct"));

  payload sent(7, 100'000);
  auto client = peer.inside([&] { return connect_to(upstream.local_endpoint()); });
  send_payload(client.get(), sent);
  shutdown_write(client.get());
  auto answer = read_until_eof(client.get());

  CHECK(answer.end == stream_end::eof);
  CHECK(answer.bytes == sent.sha1() + "\n");
  CHECK(detourd.stop() == 0);
  CHECK(detourd.stop_counter("relayed") == 1u);
}
