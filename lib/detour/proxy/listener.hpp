#pragma once
#include "detour/config/config.hpp"
#include "detour/error.hpp"
#include "detour/net/socket.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace detour::proxy {

// A listening socket could not be set up (the port is in use, binding it needs a privilege):
// detourd cannot start. The message names the endpoint, the step and the remedy.
class listen_error : public detour::error {
 public:
  using detour::error::error;
};

// Fails with a clear message if another process already holds the port. SO_REUSEPORT alone would
// let a second detourd (same user) bind it too and silently share the traffic; a probe bind without
// it finds every existing listener.
void ensure_port_free(const boost::asio::ip::tcp::endpoint& endpoint);

// The warning for an accept that failed for want of descriptors or memory (EMFILE, ENFILE,
// ENOBUFS, ENOMEM): which limit ran out, and what raises it.
std::string accept_warning(int error, std::uint64_t descriptor_limit);

// One worker's listening sockets and the loops that accept on them. Each socket has SO_REUSEPORT,
// so every worker has its own socket on the same port and the kernel spreads accepted connections
// across them (no shared accept queue, no lock). Runs on the worker's thread.
//
// Accepts with accept4(SOCK_NONBLOCK | SOCK_CLOEXEC) until the queue is empty (or a batch is
// done), then waits for the socket to become readable: one wake-up for a burst of connections,
// no ioctl to make each one non-blocking, and the client's address without a getpeername().
class listener {
 public:
  // With the client's address as accept4() gave it, and the direction of the socket it came from,
  // or nullopt where one port serves both.
  using accept_handler =
      std::function<void(net::socket, const boost::asio::ip::tcp::endpoint&, std::optional<traffic_direction>)>;
  // Told the errno of each failed accept, for detour_accept_errors_total.
  using error_handler = std::function<void(int)>;

  // `jitter_seed` differs per worker, so that their back-offs do not retry in lockstep.
  listener(boost::asio::io_context& context, unsigned jitter_seed);

  // Binds one more listening socket (before start()); throws listen_error. `direction`: what every
  // connection accepted on it is (the inbound port's), or nullopt for the port both share.
  void listen(const boost::asio::ip::tcp::endpoint& endpoint, std::optional<traffic_direction> direction = {});
  // Accepts on every socket until close(), handing each connection to `on_accept`.
  void start(accept_handler on_accept, error_handler on_error);
  // Closes the listening sockets; connections already accepted are not affected.
  void close();

  // The first socket's port: the main one.
  std::uint16_t port() const { return acceptors_.empty() ? 0 : acceptors_.front().port; }
  // Whether any of the listening sockets has this port.
  bool serves_port(std::uint16_t port) const;

 private:
  struct listening {
    std::unique_ptr<net::acceptor> acceptor;
    std::optional<traffic_direction> direction;
    // Read once at listen(): the loop check asks for it on every connection, and asking the
    // socket would be a getsockname() each time.
    std::uint16_t port = 0;
  };

  boost::asio::awaitable<void> accept_loop(listening& socket);

  boost::asio::io_context& context_;
  unsigned jitter_seed_;
  std::vector<listening> acceptors_;
  accept_handler on_accept_;
  error_handler on_error_;
  bool closed_ = false;
};

}  // namespace detour::proxy
