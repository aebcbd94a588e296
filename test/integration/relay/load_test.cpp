// Many sessions at once, each with bytes of its own: nothing mixed up between connections.
#include "support/detourd_process.hpp"
#include "support/netns.hpp"
#include "support/proc.hpp"
#include "support/tcp.hpp"

#include <catch2/catch.hpp>

using namespace detour::test;

TEST_CASE("1000 concurrent connections each get their own payload back intact", "[relay]") {
  constexpr std::size_t connections = 1000;
  // Client and server ends of every connection live in this process; detourd inherits the limit.
  raise_descriptor_limit(3 * connections);
  direct_proxy proxy;
  auto& detourd = proxy.detourd;
  echo_server upstream(at("10.77.0.2", 0));

  std::vector<payload> payloads;
  for (std::size_t i = 0; i < connections; ++i) payloads.emplace_back(1000 + i, 1 + (i * 7919) % (64 * 1024));
  auto started = std::chrono::steady_clock::now();
  auto results = exchange_concurrently(upstream.local_endpoint(), payloads, 120s);
  auto seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  WARN(fmt::format("{} concurrent echo sessions through detourd in {:.2f}s", connections, seconds));

  std::size_t intact = 0;
  for (std::size_t i = 0; i < connections; ++i) {
    if (results[i].end == stream_end::eof && results[i].sha1 == payloads[i].sha1()) {
      ++intact;
    } else {
      UNSCOPED_INFO("connection " << i << ": " << to_string(results[i].end) << ", " << results[i].size << " of "
                                  << payloads[i].size() << " bytes");
    }
  }
  CHECK(intact == connections);
  CHECK(upstream.connections_accepted() == connections);
  CHECK(detourd.stop() == 0);
  CHECK(detourd.stop_counter("accepted") == connections);
  CHECK(detourd.stop_counter("relayed") == connections);
}
