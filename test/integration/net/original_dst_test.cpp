// Redirected connections reach their original destination through detourd, in both families and
// for loopback as well as other local addresses (the nat output hook, as on a workstation).
#include "support/detourd_process.hpp"
#include "support/netns.hpp"
#include "support/tcp.hpp"

#include "detour/net/sockaddr.hpp"

#include <catch2/catch.hpp>

using namespace detour::test;

namespace {

// One connection through the proxy to a sink server at `address`: what the client sent arrives
// upstream intact, and the sink's answer comes back.
void check_relayed_to(std::string_view address) {
  auto port = free_port();
  redirect_outgoing_tcp_to(port);
  sink_server upstream(at(address, 0));
  detourd_process detourd(test_config(port, "direct"));

  payload sent(1, 256 * 1024);
  auto client = connect_to(upstream.local_endpoint());
  send_payload(client.get(), sent);
  shutdown_write(client.get());
  auto answer = read_until_eof(client.get());

  CHECK(answer.end == stream_end::eof);
  CHECK(answer.bytes == sent.sha1() + "\n");
  auto seen = upstream.wait_for_report();
  CHECK(seen.received.size == sent.size());
  CHECK(seen.received.end == stream_end::eof);
  // It was detourd that connected upstream, not the client itself: the client's own port went to
  // the proxy listener.
  CHECK(seen.peer.port() != local_endpoint_of(client.get()).port());
  CHECK(detourd.wait_for_log(fmt::format("-> {}] direct closed", detour::net::to_string(upstream.local_endpoint()))));
  CHECK(detourd.stop() == 0);
  CHECK(detourd.stop_counter("relayed") == 1u);
  // detourd's own upstream connection carried the mark, so the rule let it pass instead of
  // sending it back into detourd.
  CHECK(detourd.stop_counter("loops") == 0u);
}

}  // namespace

TEST_CASE("a connection to 127.0.0.1 redirected in the output hook reaches its original destination", "[core]") {
  enter_new_netns();
  check_relayed_to("127.0.0.1");
}

TEST_CASE("a connection to another local IPv4 address reaches its original destination", "[core]") {
  enter_new_netns();
  add_local_address("10.77.0.2/32");
  check_relayed_to("10.77.0.2");
}

TEST_CASE("a connection to ::1 redirected in the output hook reaches its original destination", "[core]") {
  enter_new_netns();
  check_relayed_to("::1");
}

TEST_CASE("a connection to another local IPv6 address reaches its original destination", "[core]") {
  enter_new_netns();
  add_local_address("fd77::2/128");
  check_relayed_to("fd77::2");
}

TEST_CASE("detourd puts the configured mark on its upstream sockets", "[core]") {
  enter_new_netns();
  auto port = free_port();
  // The rule skips only 0x42: were detourd's upstream connection not marked 0x42, it would be
  // redirected back into detourd, which would connect again, and so on until descriptors run out
  // (about 10000 hops here, measured with a wrong mark), and the answer would never arrive.
  redirect_outgoing_tcp_to(port, 0x42);
  sink_server upstream(at("127.0.0.1", 0));
  detourd_process detourd(test_config(port, "direct", "mark: 0x42\n"));

  auto client = connect_to(upstream.local_endpoint());
  send_all(client.get(), "marked");
  shutdown_write(client.get());
  CHECK(read_until_eof(client.get()).bytes == sha1_hex("marked") + "\n");
  CHECK(detourd.stop() == 0);
  CHECK(detourd.stop_counter("loops") == 0u);
  CHECK(detourd.stop_counter("relayed") == 1u);
}
