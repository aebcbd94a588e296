#include "detour/admin/admin_server.hpp"

#include "detour/admin/admin_error.hpp"
#include "detour/admin/admin_handler.hpp"
#include "detour/net/sockaddr.hpp"
#include "detour/proxy/spawn.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>

#include <array>

namespace detour::admin {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::ip::tcp;

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

// What a request that could not be read deserves: an answer for one that broke the rules, none for
// a client that went away or let the deadline pass.
std::optional<std::pair<http::status, std::string_view>> refusal_for(const boost::system::error_code& ec) {
  if (ec == http::error::header_limit || ec == http::error::buffer_overflow) {
    return std::pair{http::status::request_header_fields_too_large, "request header too large"};
  }
  if (ec == http::error::body_limit) return std::pair{http::status::payload_too_large, "request body too large"};
  if (ec == http::error::end_of_stream) return std::nullopt;
  if (ec.category() == make_error_code(http::error::bad_method).category()) {
    return std::pair{http::status::bad_request, "malformed request"};
  }
  return std::nullopt;
}

// After refusing a request, read (and drop) a little of what the client is still sending before
// closing: closing with unread input makes the kernel send an RST, which can destroy the answer
// before the client reads it. Bounded in bytes and time, so the refused client gains nothing.
asio::awaitable<void> linger(beast::tcp_stream& stream) {
  boost::system::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
  stream.expires_after(std::chrono::seconds(1));
  std::array<char, 4096> scratch{};
  for (std::size_t drained = 0; drained < std::size_t{64} * 1024;) {
    auto [ec, n] = co_await stream.async_read_some(asio::buffer(scratch), use_tuple);
    if (ec) break;
    drained += n;
  }
}

}  // namespace

// One admin connection's claim on the cap, released however its coroutine ends, even if it never
// starts (the io_context destroyed first).
class admin_server::slot {
 public:
  explicit slot(std::size_t& count) : count_(&count) { ++*count_; }
  slot(slot&& other) noexcept : count_(std::exchange(other.count_, nullptr)) {}
  slot& operator=(slot&&) = delete;
  slot(const slot&) = delete;
  slot& operator=(const slot&) = delete;
  ~slot() {
    if (count_) --*count_;
  }

 private:
  std::size_t* count_;
};

admin_server::admin_server(const tcp::endpoint& listen, backend& b, std::string_view page, server_limits limits)
    : acceptor_(context_), backend_(b), page_(page), limits_(limits) {
  auto check = [&](const boost::system::error_code& ec, std::string_view step) {
    if (ec) throw admin_error(fmt::format("admin.listen {}: {}: {}", net::to_string(listen), step, ec.message()));
  };
  boost::system::error_code ec;
  acceptor_.open(listen.protocol(), ec);
  check(ec, "socket");
  // A restart must not wait for the previous process's connections to leave TIME_WAIT.
  acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
  check(ec, "setsockopt SO_REUSEADDR");
  acceptor_.bind(listen, ec);
  check(ec, "bind");
  acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  check(ec, "listen");
  local_ = acceptor_.local_endpoint(ec);
  check(ec, "getsockname");
}

admin_server::~admin_server() { stop(); }

void admin_server::start() {
  std::lock_guard lock(lifecycle_);
  if (started_ || stopped_) return;
  started_ = true;
  proxy::spawn(context_, accept_loop(), "admin");
  thread_ = std::thread([this] { context_.run(); });
}

void admin_server::stop() {
  std::lock_guard lock(lifecycle_);
  if (stopped_) return;
  stopped_ = true;
  if (!started_) return;
  // Once the listener and every connection are closed, their coroutines end and run() returns.
  asio::post(context_, [this] { close_all(); });
  thread_.join();
}

void admin_server::close_all() {
  closing_ = true;
  boost::system::error_code ignored;
  acceptor_.close(ignored);
  for (auto* socket : sockets_) socket->close(ignored);
}

asio::awaitable<void> admin_server::accept_loop() {
  asio::steady_timer backoff(context_);
  for (;;) {
    auto [ec, socket] = co_await acceptor_.async_accept(use_tuple);
    if (closing_) co_return;
    if (ec) {
      // Out of descriptors or memory: the connection stays in the backlog, and accepting again at
      // once would spin (Asio's accept is speculative).
      spdlog::warn("admin: accept: {}", ec.message());
      backoff.expires_after(std::chrono::milliseconds(100));
      co_await backoff.async_wait(use_tuple);
      continue;
    }
    if (connections_ >= limits_.max_connections) {
      boost::system::error_code ignored;
      socket.close(ignored);
      continue;
    }
    proxy::spawn(context_, serve(std::move(socket), slot(connections_)), "admin");
  }
}

asio::awaitable<void> admin_server::serve(tcp::socket socket, [[maybe_unused]] slot s) {
  beast::tcp_stream stream(std::move(socket));
  if (closing_) co_return;
  sockets_.insert(&stream.socket());
  struct unregister {
    std::unordered_set<tcp::socket*>& set;
    tcp::socket* socket;
    ~unregister() { set.erase(socket); }
  } registration{sockets_, &stream.socket()};

  beast::flat_buffer buffer(limits_.header_bytes + limits_.body_bytes);
  for (;;) {
    http::request_parser<http::string_body> parser;
    parser.header_limit(static_cast<std::uint32_t>(limits_.header_bytes));
    parser.body_limit(limits_.body_bytes);
    // The deadline covers the wait for the next request on a kept-alive connection too.
    stream.expires_after(limits_.request_timeout);
    auto [read_error, read_bytes] = co_await http::async_read(stream, buffer, parser, use_tuple);
    if (read_error) {
      auto refusal = refusal_for(read_error);
      if (!refusal) co_return;
      auto res = error_response(refusal->first, refusal->second, 11, false);
      stream.expires_after(limits_.request_timeout);
      auto [write_error, written] = co_await http::async_write(stream, res, use_tuple);
      if (!write_error) co_await linger(stream);
      co_return;
    }
    auto res = handle(backend_, page_, parser.get());
    const bool keep_alive = res.keep_alive();
    stream.expires_after(limits_.request_timeout);
    auto [write_error, written] = co_await http::async_write(stream, res, use_tuple);
    if (write_error) co_return;
    if (!keep_alive) break;
  }
  boost::system::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
}

}  // namespace detour::admin
