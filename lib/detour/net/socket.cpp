#include "detour/net/socket.hpp"

#include "detour/net/socket_options.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

namespace detour::net {

namespace {

// Asio keeps what it knows of a socket (non-blocking, possibly duplicated) in its implementation
// object, which basic_socket holds as a protected member. Naming that member through a derived
// class gives a pointer to it that works on any net::socket; nothing is ever made of this type.
struct socket_state : socket {
  static auto& of(socket& s) { return (s.*(&socket_state::impl_)).get_implementation().state_; }
};

}  // namespace

void reset(socket& s) {
  if (!s.is_open()) return;
  (void)set_linger_reset(s.native_handle());
  boost::system::error_code ignored;
  s.close(ignored);
}

std::error_code adopt(socket& into, const boost::asio::ip::tcp& protocol, int fd) {
  boost::system::error_code ec;
  into.assign(protocol, fd, ec);
  if (ec) {
    ::close(fd);
    return {ec.value(), std::system_category()};
  }
  namespace ops = boost::asio::detail::socket_ops;
  auto& state = socket_state::of(into);
  // internal_non_blocking: what Asio records after its own ioctl, so that its synchronous calls
  // still wait as on a blocking socket; not user_set_non_blocking, which would change them.
  state = static_cast<ops::state_type>((state | ops::internal_non_blocking) & ~ops::possible_dup);
  return {};
}

std::error_code open_nonblocking(socket& into, const boost::asio::ip::tcp& protocol) {
  const int fd = ::socket(protocol.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP);
  if (fd < 0) return {errno, std::system_category()};
  return adopt(into, protocol, fd);
}

}  // namespace detour::net
