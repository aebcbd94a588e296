// The relay in direct mode: bytes intact in bulk, each direction ending on its own (half-close),
// resets carried across, idle sessions closed.
#include "support/detourd_process.hpp"
#include "support/netns.hpp"
#include "support/nft.hpp"
#include "support/proc.hpp"
#include "support/tcp.hpp"

#include <catch2/catch.hpp>

#include <poll.h>
#include <sys/socket.h>

#include <thread>

using namespace detour::test;

TEST_CASE("64 MiB cross the proxy each way at once, intact", "[relay]") {
  direct_proxy proxy;
  constexpr std::uint64_t size = 64ULL * 1024 * 1024;
  payload down(2, size);
  payload up(3, size);
  sending_server upstream(at("10.77.0.2", 0), down);

  auto started = std::chrono::steady_clock::now();
  auto client = connect_to(upstream.local_endpoint());
  std::jthread sender([&] {
    send_payload(client.get(), up, 60s);
    shutdown_write(client.get());
  });
  auto got = hash_until_eof(client.get(), 60s);
  sender.join();
  auto seen = upstream.wait_for_report(60s);
  auto seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  WARN(fmt::format("2 x 64 MiB through detourd in {:.2f}s ({:.0f} MiB/s each way)", seconds, 64 / seconds));

  CHECK(got.end == stream_end::eof);
  CHECK(got.size == size);
  CHECK(got.sha1 == down.sha1());
  CHECK(seen.received.end == stream_end::eof);
  CHECK(seen.received.size == size);
  CHECK(seen.received.sha1 == up.sha1());
  CHECK(proxy.detourd.wait_for_log(fmt::format("up={} down={}", size, size)));
}

namespace {

// Sends until the connection stops taking bytes for `quiet` (or `limit` is reached); returns how
// many it took.
std::uint64_t send_until_stalled(int fd, std::uint64_t limit, std::chrono::milliseconds quiet) {
  std::string chunk(64 * 1024, 'x');
  std::uint64_t sent = 0;
  while (sent < limit) {
    ssize_t n = ::send(fd, chunk.data(), chunk.size(), MSG_NOSIGNAL);
    if (n > 0) {
      sent += static_cast<std::uint64_t>(n);
      continue;
    }
    if (errno != EAGAIN) break;
    pollfd p{fd, POLLOUT, 0};
    if (::poll(&p, 1, static_cast<int>(quiet.count())) == 0) break;
  }
  return sent;
}

}  // namespace

TEST_CASE("a client sending to an upstream that does not read is held back, not buffered", "[relay]") {
  direct_proxy proxy;
  tcp_server upstream(at("10.77.0.2", 0));  // accepts and holds, never reads
  auto rss_before = resident_kib(proxy.detourd.pid());

  auto client = connect_to(upstream.local_endpoint());
  constexpr std::uint64_t limit = 256ULL * 1024 * 1024;
  auto taken = send_until_stalled(client.get(), limit, 500ms);
  auto rss_after = resident_kib(proxy.detourd.pid());
  WARN(
      fmt::format("an upstream that does not read: the client got {} KiB in before it stalled; detourd RSS "
                  "{} KiB -> {} KiB",
                  taken / 1024, rss_before, rss_after));

  // What fits in the kernel's buffers on the way (two sockets' send and receive buffers, with
  // loopback autotuning up to a few MiB each, and a pipe), nowhere near the limit; and detourd
  // itself keeps none of it.
  CHECK(taken < 64ULL * 1024 * 1024);
  CHECK(rss_after < rss_before + 4096);
}

TEST_CASE("when the client half-closes, the upstream sees EOF and its answer still flows back", "[relay]") {
  direct_proxy proxy;
  sink_server upstream(at("10.77.0.2", 0));
  payload sent(4, 100'000);

  // The sink answers only after it has read EOF: the answer proves both halves.
  auto got = send_and_read_answer(connect_to(upstream.local_endpoint()), sent);

  CHECK(got.reply.end == stream_end::eof);
  CHECK(got.reply.bytes == sent.sha1() + "\n");
  CHECK(upstream.wait_for_report().received.end == stream_end::eof);
}

TEST_CASE("when the upstream half-closes, the client sees EOF and can still send", "[relay]") {
  direct_proxy proxy;
  payload down(5, 300'000);
  sending_server upstream(at("10.77.0.2", 0), down);

  auto client = connect_to(upstream.local_endpoint());
  auto got = hash_until_eof(client.get());
  REQUIRE(got.end == stream_end::eof);
  CHECK(got.sha1 == down.sha1());

  // After the upstream's FIN reached the client, the client's direction is still open.
  payload up(6, 200'000);
  send_payload(client.get(), up);
  shutdown_write(client.get());
  auto seen = upstream.wait_for_report();
  CHECK(seen.received.end == stream_end::eof);
  CHECK(seen.received.sha1 == up.sha1());
  CHECK(read_until_eof(client.get()).end == stream_end::eof);
  CHECK(proxy.detourd.wait_for_log("reason=eof"));
}

TEST_CASE("a client that resets its connection gets the upstream connection reset too", "[relay]") {
  direct_proxy proxy;
  echo_server upstream(at("10.77.0.2", 0));

  // The echo proves the upstream connection is up before the reset.
  auto client = connect_and_echo(upstream.local_endpoint(), "hello");
  reset_connection(client);

  CHECK(upstream.wait_for_report().received.end == stream_end::reset);
  CHECK(proxy.detourd.wait_for_log("reason=client reset"));
}

TEST_CASE("an upstream that resets its connection gets the client reset too", "[relay]") {
  direct_proxy proxy;
  resetting_server upstream(at("10.77.0.2", 0));

  auto client = connect_to(upstream.local_endpoint());
  send_all(client.get(), "x");
  auto got = read_until_eof(client.get());

  CHECK(got.end == stream_end::reset);
  CHECK(upstream.wait_for_report().received.size == 1);
  CHECK(proxy.detourd.wait_for_log("reason=upstream reset"));
}

TEST_CASE("a session with no traffic either way for idle_timeout is closed", "[relay]") {
  direct_proxy proxy("idle_timeout: 300ms\n");
  echo_server upstream(at("10.77.0.2", 0));

  auto client = connect_and_echo(upstream.local_endpoint(), "ping");
  auto last_traffic = std::chrono::steady_clock::now();
  auto got = read_until_eof(client.get(), 10s);
  auto idle = std::chrono::steady_clock::now() - last_traffic;

  CHECK(got.end != stream_end::timeout);
  CHECK(got.bytes.empty());
  CHECK(idle >= 250ms);
  CHECK(idle < 5s);
  CHECK(upstream.wait_for_report().received.end != stream_end::timeout);
  CHECK(proxy.detourd.wait_for_log("reason=idle timeout"));
}

TEST_CASE("traffic in either direction keeps a session open past idle_timeout", "[relay]") {
  direct_proxy proxy("idle_timeout: 1s\n");
  // Eight pieces 400ms apart outlast the idle timeout three times over, while the session is never
  // idle for more than 400ms at a time. Each pause waits for a close that must not come.
  constexpr std::size_t pieces = 8;
  constexpr auto pause = 400ms;
  auto started = std::chrono::steady_clock::now();

  SECTION("upload only: the client trickles bytes to an upstream that only reads") {
    sink_server upstream(at("10.77.0.2", 0));
    payload up(8, 8000);
    auto client = connect_to(upstream.local_endpoint());
    sha1_hasher nothing_comes_back;
    REQUIRE(trickle(client.get(), up, pieces, pause, nothing_comes_back) == stream_end::timeout);
    CHECK(std::chrono::steady_clock::now() - started >= 2s);
    shutdown_write(client.get());
    // The sink answers only after EOF, with the hash of all it read.
    auto answer = read_until_eof(client.get());
    CHECK(answer.end == stream_end::eof);
    CHECK(answer.bytes == up.sha1() + "\n");
  }
  SECTION("download only: the upstream trickles bytes to a client that only reads") {
    payload down(9, 8000);
    trickling_server upstream(at("10.77.0.2", 0), down, pieces, pause);
    auto client = connect_to(upstream.local_endpoint());
    // Until the upstream's FIN after its last piece; an idle close would cut the bytes short.
    auto got = hash_until_eof(client.get());
    CHECK(got.end == stream_end::eof);
    CHECK(got.sha1 == down.sha1());
    CHECK(std::chrono::steady_clock::now() - started >= 2s);
    shutdown_write(client.get());
    CHECK(upstream.wait_for_report().received.end == stream_end::eof);
  }
  SECTION("both ways: echo round trips") {
    echo_server upstream(at("10.77.0.2", 0));
    auto client = connect_to(upstream.local_endpoint());
    for (std::size_t round = 0; round < pieces; ++round) {
      send_all(client.get(), "ping");
      REQUIRE(read_exactly(client.get(), 4).bytes == "ping");
      REQUIRE(read_until_eof(client.get(), pause).end == stream_end::timeout);
    }
    CHECK(std::chrono::steady_clock::now() - started >= 2s);
    shutdown_write(client.get());
    CHECK(read_until_eof(client.get()).end == stream_end::eof);
  }
  CHECK(proxy.detourd.wait_for_log("reason=eof"));
}
