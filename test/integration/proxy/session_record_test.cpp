// Every way a session can end goes through one place, finish() with the session's record: exactly
// one log line and one count per connection, whichever path it took.
#include "support/detourd_process.hpp"
#include "support/held_socks5_server.hpp"
#include "support/netns.hpp"
#include "support/nft.hpp"
#include "support/tcp.hpp"

#include <catch2/catch.hpp>

using namespace detour::test;

namespace {

// Connects and reads until the stream ends; a reset during connect() counts as a reset.
stream_end ending_of(const endpoint& destination) { return read_after_connect(destination).end; }

}  // namespace

TEST_CASE("every way a session ends writes exactly one log line and one count", "[session]") {
  enter_new_netns();
  auto port = free_port();
  for (const char* address : {"10.77.0.2/32", "10.77.1.2/32"}) add_local_address(address);
  redirect_output(port);
  held_socks5_server proxy(at("127.0.0.1", 0));
  echo_server upstream(at("10.77.0.2", 0));
  const auto closed_port = free_port();
  detourd_process detourd(test_config(port, "direct",
                                      fmt::format(R"(upstreams:
  held: {{kind: socks5, address: "127.0.0.1:{}"}}
routes:
  - destinations: [10.77.1.2/32]
    ports: [81]
    action: reject
  - destinations: [10.77.1.2/32]
    ports: [82]
    action: echo
  - destinations: [10.77.1.2/32]
    ports: [83]
    action: {{upstream: held}}
)",
                                                  proxy.port())));

  // Not redirected: made to detourd's port itself.
  CHECK(ending_of(at("127.0.0.1", port)) != stream_end::timeout);
  // A loop: the original destination is detourd's own listener.
  CHECK(ending_of(at("10.77.0.2", port)) != stream_end::timeout);
  CHECK(ending_of(at("10.77.1.2", 81)) == stream_end::reset);
  CHECK(ending_of(at("10.77.1.2", 82)) == stream_end::eof);
  CHECK(ending_of(at("10.77.0.2", closed_port)) == stream_end::reset);
  {
    auto client = connect_to(at("10.77.1.2", 83));
    REQUIRE(proxy.wait_for_greeting());
    reset_connection(client);
    proxy.answer();
    CHECK(detourd.wait_for_log("failed before relaying"));
  }
  {
    auto client = connect_to(upstream.local_endpoint());
    send_all(client.get(), "relayed");
    shutdown_write(client.get());
    CHECK(read_until_eof(client.get()).bytes == "relayed");
  }
  REQUIRE(detourd.stop() == 0);

  const std::pair<const char*, const char*> exits[] = {
      {"refused: not redirected", "not_redirected"},
      {"refused: loop", "loops"},
      {"rejected (route 1: reject)", "rejected"},
      {"echo closed (route 2: echo)", "echoed"},
      {"direct connect failed: Connection refused", "upstream_failures"},
      {"socks5 held (127.0.0.1:", "early_data_failures"},
      {"direct closed up=7 down=7", "relayed"},
  };
  for (const auto& [line, counter] : exits) {
    INFO(line << "\n" << detourd.log());
    CHECK(detourd.count_log_lines(line) == 1);
    CHECK(detourd.stop_counter(counter) == 1u);
  }
  INFO(detourd.log());
  CHECK(detourd.count_log_lines("session: [") == std::size(exits));
  CHECK(detourd.stop_counter("accepted") == std::size(exits));
  CHECK(detourd.count_log_lines("failed before relaying: writing the proxy's early data to the client: ") == 1);
}
