// A relay whose worker cannot have pipes (pipe2 fails) copies through buffers instead: the same
// bytes, the same half-close, the same resets. Real TCP connections on loopback, a fake kernel for
// the pipes.
#include "detour/relay/splice_relay.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>

#include <catch2/catch.hpp>

#include <sys/socket.h>

#include <atomic>
#include <cerrno>
#include <future>
#include <optional>
#include <string>
#include <thread>

using namespace detour;
namespace asio = boost::asio;
using asio::ip::tcp;

namespace {

// The real kernel, but for pipe2(), which fails with `create_error` while it is not 0.
struct refusing_kernel : relay::pipe_kernel {
  std::atomic<int> create_error{0};
  int create(int (&fds)[2]) override {
    if (const int e = create_error.load(); e != 0) {
      errno = e;
      return -1;
    }
    return pipe_kernel::create(fds);
  }
};

// Two loopback connections with the relay between their inner ends; the test holds the outer
// ends (`client`, `upstream`) as blocking sockets and the relay runs on its own thread. Like its
// owner in detourd, the pair closes the relay's sockets once both directions have ended.
struct relayed_pair {
  explicit relayed_pair(int pipe2_error) {
    kernel.create_error = pipe2_error;
    tcp::acceptor acceptor(peers, {asio::ip::make_address("127.0.0.1"), 0});
    net::socket client_inner(context);
    net::socket upstream_inner(context);
    client.connect(acceptor.local_endpoint());
    acceptor.accept(client_inner);
    upstream_inner.connect(acceptor.local_endpoint());
    acceptor.accept(upstream);
    relay.emplace(std::move(client_inner), std::move(upstream_inner), pools, tick, live, [this] { on_finished(); });
    relay->start();
    runner = std::thread([this] { context.run(); });
  }
  ~relayed_pair() {
    if (runner.joinable()) {
      asio::post(context, [this] { relay->abort(); });
      runner.join();
    }
  }
  // What the relay's owner does (relayed_session): the relay leaves the last FIN to the close of
  // both sockets, and a failure's reset to the owner.
  void on_finished() {
    const auto r = relay->result();
    if (r.up.eof && r.down.eof) {
      boost::system::error_code ignored;
      relay->client().close(ignored);
      relay->upstream().close(ignored);
    } else {
      net::reset(relay->client());
      net::reset(relay->upstream());
    }
    finished.set_value();
  }
  relay::relay_result wait() {
    REQUIRE(done.wait_for(std::chrono::seconds(20)) == std::future_status::ready);
    runner.join();
    return relay->result();
  }

  refusing_kernel kernel;
  relay::relay_pools pools{kernel};
  asio::io_context context{1};
  asio::io_context peers;
  tcp::socket client{peers};
  tcp::socket upstream{peers};
  std::uint64_t tick = 0;
  relay::byte_counters live;
  std::promise<void> finished;
  std::future<void> done = finished.get_future();
  std::optional<relay::splice_relay> relay;
  std::thread runner;
};

std::string pattern(std::size_t size, unsigned seed) {
  std::string s(size, '\0');
  std::uint32_t x = seed * 2654435761U + 1;
  for (auto& c : s) {
    x = x * 1103515245U + 12345U;
    c = static_cast<char>(x >> 24);
  }
  return s;
}

std::string read_to_eof(tcp::socket& s) {
  std::string got;
  boost::system::error_code ec;
  asio::read(s, asio::dynamic_buffer(got), ec);
  CHECK(ec == asio::error::eof);
  return got;
}

}  // namespace

TEST_CASE("without pipes, bytes cross both ways through copy buffers intact and each fallback is counted", "[relay]") {
  for (int error : {EMFILE, ENFILE}) {
    INFO("pipe2 fails with " << error);
    relayed_pair pair(error);
    const auto up = pattern(3 * 1024 * 1024 + 17, 1);
    const auto down = pattern(2 * 1024 * 1024 + 5, 2);
    std::thread sender([&] {
      asio::write(pair.client, asio::buffer(up));
      pair.client.shutdown(tcp::socket::shutdown_send);
    });
    // The upstream reads all, then answers and half-closes: the answer travels after the
    // client's FIN, so both halves are proven.
    CHECK(read_to_eof(pair.upstream) == up);
    asio::write(pair.upstream, asio::buffer(down));
    pair.upstream.shutdown(tcp::socket::shutdown_send);
    CHECK(read_to_eof(pair.client) == down);
    sender.join();
    auto r = pair.wait();
    CHECK(r.up.eof);
    CHECK(r.down.eof);
    CHECK(!r.up.error);
    CHECK(!r.down.error);
    CHECK(r.up.bytes == up.size());
    CHECK(r.down.bytes == down.size());
    CHECK(pair.live.up.get() == up.size());
    CHECK(pair.pools.copy_fallbacks.get() >= 2);
    CHECK(pair.pools.pipes.refused().get() >= pair.pools.copy_fallbacks.get());
    CHECK(pair.pools.buffers.in_use().get() == 0);
    CHECK(pair.pools.buffers.idle() >= 1);
  }
}

TEST_CASE("a direction copying through a buffer half-closes while the other keeps flowing", "[relay]") {
  relayed_pair pair(EMFILE);
  pair.upstream.shutdown(tcp::socket::shutdown_send);
  CHECK(read_to_eof(pair.client).empty());
  // After the upstream's FIN reached the client, the client's direction is still open.
  const auto up = pattern(500'000, 3);
  asio::write(pair.client, asio::buffer(up));
  pair.client.shutdown(tcp::socket::shutdown_send);
  CHECK(read_to_eof(pair.upstream) == up);
  auto r = pair.wait();
  CHECK(r.up.eof);
  CHECK(r.down.eof);
  CHECK(!r.up_ended_first);
}

TEST_CASE("a reset on one side of a copying relay ends it with the reset, for the owner to pass on", "[relay]") {
  relayed_pair pair(EMFILE);
  asio::write(pair.client, asio::buffer(std::string("hello")));
  std::string got(5, '\0');
  asio::read(pair.upstream, asio::buffer(got));
  CHECK(got == "hello");
  // Bytes the upstream has not read are in flight when the client resets.
  asio::write(pair.client, asio::buffer(pattern(100'000, 4)));
  pair.client.set_option(asio::socket_base::linger(true, 0));
  pair.client.close();
  auto r = pair.wait();
  CHECK(r.up.error == std::errc::connection_reset);
  CHECK(!r.up.error_on_write);
  CHECK(!r.up.eof);
  CHECK(pair.pools.buffers.in_use().get() == 0);
}

TEST_CASE("a relay tries for a pipe again once its copy buffer has drained", "[relay]") {
  relayed_pair pair(EMFILE);
  asio::write(pair.client, asio::buffer(std::string("one")));
  std::string got(3, '\0');
  asio::read(pair.upstream, asio::buffer(got));
  CHECK(pair.pools.copy_fallbacks.get() == 1);
  // Once the relay has found its source drained, it has given the buffer back.
  for (int i = 0; i < 2000 && pair.pools.buffers.in_use().get() != 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  REQUIRE(pair.pools.buffers.in_use().get() == 0);
  pair.kernel.create_error = 0;
  asio::write(pair.client, asio::buffer(std::string("two")));
  asio::read(pair.upstream, asio::buffer(got));
  CHECK(got == "two");
  pair.client.shutdown(tcp::socket::shutdown_send);
  pair.upstream.shutdown(tcp::socket::shutdown_send);
  CHECK(read_to_eof(pair.upstream).empty());
  auto r = pair.wait();
  CHECK(r.up.bytes == 6);
  CHECK(pair.pools.copy_fallbacks.get() == 1);
  CHECK(pair.pools.pipes.idle() >= 1);  // the pipe that carried "two", among others
}
