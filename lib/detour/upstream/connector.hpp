#pragma once
#include <boost/asio/awaitable.hpp>
#include "detour/net/socket.hpp"

#include <boost/asio/ip/tcp.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

namespace detour::upstream {

struct connect_options {
  std::uint32_t mark = 0;  // SO_MARK on the upstream socket; 0: none
  std::chrono::milliseconds timeout{10'000};
};

// What a connector hands the session: a connected socket, or the reason there is none, worded for
// the access log ("connect timeout", "Connection refused").
struct connect_outcome {
  std::optional<net::socket> socket;
  // Bytes the upstream sent after its handshake reply (proxies may send early): the relay forwards
  // them to the client before anything else.
  std::string early_data;
  std::string failure;
  // How the connection left, for the log: "direct", "socks5 corp (10.0.0.1:1080)".
  std::string via;
};

boost::asio::awaitable<connect_outcome> connect_direct(boost::asio::ip::tcp::endpoint target,
                                                       const connect_options& options);

// Opens a TCP socket for `target`'s family carrying the options every upstream socket must have
// (the mark that keeps our own traffic out of our redirect rules). Shared by all connectors.
std::optional<net::socket> open_upstream_socket(const net::socket::executor_type& executor,
                                                 const boost::asio::ip::tcp& protocol,
                                                 const connect_options& options, std::string& failure);

// The io_context executor the calling coroutine runs on (a worker's), for new upstream sockets.
boost::asio::awaitable<net::socket::executor_type> worker_executor();

// Connects `socket` within `timeout`; an empty string on success, else the reason.
boost::asio::awaitable<std::string> connect_within(net::socket& socket,
                                                   const boost::asio::ip::tcp::endpoint& target,
                                                   std::chrono::milliseconds timeout);

}  // namespace detour::upstream
