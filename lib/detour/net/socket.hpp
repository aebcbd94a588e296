#pragma once
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <system_error>

namespace detour::net {

// Sockets bound to a worker's io_context executor rather than the type-erased any_io_executor:
// every pending operation stores its executor, and this one is a pointer, not a 40-byte wrapper.
// With thousands of idle connections, each holding two pending waits, that is measurable.
using socket = boost::asio::ip::tcp::socket::rebind_executor<boost::asio::io_context::executor_type>::other;
using acceptor = boost::asio::ip::tcp::acceptor::rebind_executor<boost::asio::io_context::executor_type>::other;

// Closes `socket` with RST instead of FIN (SO_LINGER 0): how a failure is told to the peer honestly,
// and how a reset on one side of a relay is carried to the other. A closed socket is left alone.
void reset(socket& s);

// Hands Asio a TCP socket this process has just created with SOCK_NONBLOCK (accept4, socket) and
// shares with nobody. Asio's own assign() would assume neither: it would make the descriptor
// non-blocking again with an ioctl before its first operation, and, fearing a dup(), remove it from
// epoll with an EPOLL_CTL_DEL before close() does that anyway: two system calls per socket that
// tell the kernel what it already knows. On failure (epoll_ctl refused) the descriptor is closed.
std::error_code adopt(socket& into, const boost::asio::ip::tcp& protocol, int fd);

// A non-blocking, close-on-exec TCP socket of `protocol`, adopted as above; the errno on failure.
std::error_code open_nonblocking(socket& into, const boost::asio::ip::tcp& protocol);

}  // namespace detour::net
