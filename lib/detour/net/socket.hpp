#pragma once
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

namespace detour::net {

// Sockets bound to a worker's io_context executor rather than the type-erased any_io_executor:
// every pending operation stores its executor, and this one is a pointer, not a 40-byte wrapper.
// With thousands of idle connections, each holding two pending waits, that is measurable.
using socket = boost::asio::ip::tcp::socket::rebind_executor<boost::asio::io_context::executor_type>::other;
using acceptor = boost::asio::ip::tcp::acceptor::rebind_executor<boost::asio::io_context::executor_type>::other;

// Closes `socket` with RST instead of FIN (SO_LINGER 0): how a failure is told to the peer honestly,
// and how a reset on one side of a relay is carried to the other. A closed socket is left alone.
void reset(socket& s);

}  // namespace detour::net
