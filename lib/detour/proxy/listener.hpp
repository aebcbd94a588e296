#pragma once
#include <boost/asio/io_context.hpp>
#include "detour/net/socket.hpp"

#include <boost/asio/ip/tcp.hpp>

#include <cstdint>
#include <stdexcept>
#include <vector>

namespace detour::proxy {

// A listening socket for one worker: SO_REUSEPORT, so every worker has its own socket on the same
// port and the kernel spreads accepted connections across them (no shared accept queue, no lock).
net::acceptor make_listener(boost::asio::io_context& context,
                                             const boost::asio::ip::tcp::endpoint& endpoint);

// Fails with a clear message if another process already holds the port. SO_REUSEPORT alone would
// let a second detourd (same user) bind it too and silently share the traffic; a probe bind without
// it finds every existing listener.
void ensure_port_free(const boost::asio::ip::tcp::endpoint& endpoint);

class startup_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace detour::proxy
