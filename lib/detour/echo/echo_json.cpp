#include "detour/echo/echo_json.hpp"

#include "detour/net/sockaddr.hpp"

#include <fmt/format.h>

namespace detour::echo {
namespace {

std::string json_string(std::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (u < 0x20) {
      out += fmt::format("\\u{:04x}", u);
    } else {
      out += c;
    }
  }
  return out + "\"";
}

}  // namespace

std::string echo_json(const boost::asio::ip::tcp::endpoint& source, const boost::asio::ip::tcp::endpoint& destination,
                      const boost::asio::ip::tcp::endpoint& original, std::string_view route) {
  return fmt::format("{{\"source\":{},\"destination\":{},\"original_destination\":{},\"route\":{}}}\n",
                     json_string(net::to_string(source)), json_string(net::to_string(destination)),
                     json_string(net::to_string(original)), json_string(route));
}

}  // namespace detour::echo
