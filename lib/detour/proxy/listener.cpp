#include "detour/proxy/listener.hpp"

#include "detour/net/sockaddr.hpp"

#include <fmt/format.h>
#include <sys/socket.h>

namespace detour::proxy {

namespace asio = boost::asio;
using asio::ip::tcp;

namespace {

[[noreturn]] void fail(const tcp::endpoint& endpoint, std::string_view what, const boost::system::error_code& ec) {
  auto hint = ec == asio::error::address_in_use ? " (another process is listening on that port; choose another with "
                                                   "--port or `port:`)"
              : ec == asio::error::access_denied ? " (binding a port below 1024 needs root or CAP_NET_BIND_SERVICE)"
                                                 : "";
  throw startup_error(fmt::format("listen on {}: {}: {}{}", net::to_string(endpoint), what, ec.message(), hint));
}

}  // namespace

net::acceptor make_listener(asio::io_context& context, const tcp::endpoint& endpoint) {
  net::acceptor acceptor(context.get_executor());
  boost::system::error_code ec;
  acceptor.open(endpoint.protocol(), ec);
  if (ec) fail(endpoint, "socket", ec);
  int one = 1;
  if (::setsockopt(acceptor.native_handle(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0) {
    fail(endpoint, "SO_REUSEPORT", {errno, boost::system::system_category()});
  }
  acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  // IPv4 gets its own socket; a dual-stack one would hand us v4-mapped peers.
  if (endpoint.address().is_v6()) acceptor.set_option(asio::ip::v6_only(true), ec);
  acceptor.bind(endpoint, ec);
  if (ec) fail(endpoint, "bind", ec);
  acceptor.listen(SOMAXCONN, ec);
  if (ec) fail(endpoint, "listen", ec);
  return acceptor;
}

void ensure_port_free(const tcp::endpoint& endpoint) {
  asio::io_context context;
  tcp::acceptor probe(context);
  boost::system::error_code ec;
  probe.open(endpoint.protocol(), ec);
  if (ec) fail(endpoint, "socket", ec);
  if (endpoint.address().is_v6()) probe.set_option(asio::ip::v6_only(true), ec);
  // SO_REUSEADDR lets the probe past connections of a previous run still in TIME_WAIT, while a
  // socket in LISTEN on the port still makes it fail: that is the case to report.
  probe.set_option(tcp::acceptor::reuse_address(true), ec);
  probe.bind(endpoint, ec);
  if (ec) fail(endpoint, "bind", ec);
}

}  // namespace detour::proxy
