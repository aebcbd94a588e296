#include "detour/echo/echo_json.hpp"

#include "detour/net/sockaddr.hpp"

#include <boost/json.hpp>

namespace detour::echo {

std::string echo_json(const boost::asio::ip::tcp::endpoint& source, const boost::asio::ip::tcp::endpoint& destination,
                      const boost::asio::ip::tcp::endpoint& original, std::string_view route, std::string_view action) {
  boost::json::object line;
  line["source"] = net::to_string(source);
  line["destination"] = net::to_string(destination);
  line["original_destination"] = net::to_string(original);
  line["route"] = route;
  line["action"] = action;
  return boost::json::serialize(line) + "\n";
}

}  // namespace detour::echo
