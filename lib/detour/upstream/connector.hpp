#pragma once
#include <boost/asio/awaitable.hpp>
#include "detour/net/socket.hpp"
#include "detour/upstream/failure_kind.hpp"

#include <boost/asio/ip/tcp.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace detour::upstream {

// Lets the session end an attempt in flight from outside (shutdown). A connector shows it the
// socket it is working on (watched_socket); cancel() aborts whatever is pending on that socket (the
// connect, a handshake read or write), so the attempt returns at once instead of at its timeout,
// and no further server is tried. Costs nothing until used: no allocation, no system call.
// Worker thread only, like everything a session touches.
class connect_cancellation {
 public:
  void cancel() {
    cancelled_ = true;
    boost::system::error_code ignored;
    if (socket_ != nullptr) socket_->cancel(ignored);
  }
  bool cancelled() const { return cancelled_; }

 private:
  friend class watched_socket;
  net::socket* socket_ = nullptr;
  bool cancelled_ = false;
};

// Shows `socket` to `cancellation` (when there is one) for as long as it lives.
class watched_socket {
 public:
  watched_socket(connect_cancellation* cancellation, net::socket& socket) : cancellation_(cancellation) {
    if (cancellation_ != nullptr) cancellation_->socket_ = &socket;
  }
  ~watched_socket() {
    if (cancellation_ != nullptr) cancellation_->socket_ = nullptr;
  }
  watched_socket(const watched_socket&) = delete;
  watched_socket& operator=(const watched_socket&) = delete;

 private:
  connect_cancellation* cancellation_;
};

struct connect_options {
  std::uint32_t mark = 0;  // SO_MARK on the upstream socket; 0: none
  std::chrono::milliseconds timeout{10'000};
  // Set by the session so that shutdown can end the attempt; may be null.
  connect_cancellation* cancellation = nullptr;
  // The name the client asked for (the session's sniffed server name; empty: none). An upstream
  // with `resolve: remote` is asked for it instead of the address; every other connect ignores it.
  // Not owned: it must outlive the attempt, as the upstream's config does.
  std::string_view server_name;
};

// What a connector hands the session: a connected socket, or the reason there is none, worded for
// the access log ("connect timeout", "Connection refused").
struct connect_outcome {
  std::optional<net::socket> socket;
  // Bytes the upstream sent after its handshake reply (proxies may send early): the relay forwards
  // them to the client before anything else.
  std::string early_data;
  std::string failure;
  failure_kind kind = failure_kind::none;  // with `failure`
  // The proxy server the connection went through (absent: direct, or no server answered).
  std::optional<boost::asio::ip::tcp::endpoint> server;
  // How the connection left, for the log: "direct", "socks5 corp (10.0.0.1:1080)", and with a name
  // asked for, "socks5 corp (10.0.0.1:1080) as www.example.com:443".
  std::string via;
};

boost::asio::awaitable<connect_outcome> connect_direct(boost::asio::ip::tcp::endpoint target,
                                                       const connect_options& options);

// Opens a TCP socket for `target`'s family carrying the options every upstream socket must have
// (the mark that keeps our own traffic out of our redirect rules, and TCP_NODELAY for the relay).
// Shared by all connectors.
// A failed step of a connect: the text for the log and its kind.
struct attempt_error {
  std::string text;
  failure_kind kind = failure_kind::none;
  bool failed() const { return kind != failure_kind::none; }
};

std::optional<net::socket> open_upstream_socket(const net::socket::executor_type& executor,
                                                const boost::asio::ip::tcp& protocol, const connect_options& options,
                                                attempt_error& failure);

// The io_context executor the calling coroutine runs on (a worker's), for new upstream sockets.
boost::asio::awaitable<net::socket::executor_type> worker_executor();

// Connects `socket` within `timeout`; nothing failed() on success, else the reason.
boost::asio::awaitable<attempt_error> connect_within(net::socket& socket, const boost::asio::ip::tcp::endpoint& target,
                                                     std::chrono::milliseconds timeout);

}  // namespace detour::upstream
