#pragma once
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

namespace detour::net {

// Sockets bound to a worker's io_context executor rather than the type-erased any_io_executor:
// every pending operation stores its executor, and this one is a pointer, not a 40-byte wrapper.
// With thousands of idle connections, each holding two pending waits, that is measurable.
using socket = boost::asio::ip::tcp::socket::rebind_executor<boost::asio::io_context::executor_type>::other;
using acceptor = boost::asio::ip::tcp::acceptor::rebind_executor<boost::asio::io_context::executor_type>::other;

}  // namespace detour::net
