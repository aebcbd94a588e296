// The direct connector: detourd's upstream sockets carry its mark, so that its own connections
// pass the capture rules instead of coming back into detourd.
#include "support/detourd_process.hpp"
#include "support/netns.hpp"
#include "support/nft.hpp"
#include "support/tcp.hpp"

#include <catch2/catch.hpp>

using namespace detour::test;

TEST_CASE("detourd puts the configured mark on its upstream sockets", "[upstream]") {
  enter_new_netns();
  auto port = free_port();
  // The rule skips only 0x42: were detourd's upstream connection not marked 0x42, it would be
  // redirected back into detourd, which would connect again, and so on until descriptors run out
  // (about 10000 hops here, measured with a wrong mark), and the answer would never arrive.
  redirect_output(port, {.skip_mark = 0x42});
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
