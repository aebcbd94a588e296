#include "detour/echo/echo_line.hpp"

#include "detour/net/sockaddr.hpp"

#include <fmt/format.h>

#include <system_error>

namespace detour::echo {

std::string echo_line(const boost::asio::ip::tcp::endpoint& source, const boost::asio::ip::tcp::endpoint& dest,
                      const std::optional<boost::asio::ip::tcp::endpoint>& original, std::error_code original_error) {
  auto src = net::unmap(source);
  auto dst = net::unmap(dest);
  std::string orig;
  if (original) {
    auto o = net::unmap(*original);
    orig = fmt::format("ip: {}, port: {}", o.address().to_string(), o.port());
  } else {
    // Worker threads build this line concurrently, and strerror may share one buffer between threads;
    // the category's message is the same text, from strerror_r.
    const int e = original_error.value();
    orig = fmt::format("strerror: {}, errno: {}", std::generic_category().message(e), e);
  }
  return fmt::format("source{{ip: {}, port: {}}};  dest{{ip: {}, port: {}}}; original dest{{{}}}\n",
                     src.address().to_string(), src.port(), dst.address().to_string(), dst.port(), orig);
}

}  // namespace detour::echo
