#pragma once
#include <boost/asio/ip/tcp.hpp>

#include <string>
#include <string_view>

namespace detour::echo {

// The `echo: json` route's answer, one line:
//   {"source":"10.0.0.5:51234","destination":"127.0.0.1:15001","original_destination":"93.184.216.34:443",
//    "route":"route 2","action":"echo json"}
// `destination` is the address the connection reached (detourd's listener); `route` is the name of
// the route that matched and `action` what it does, so a user can check the routes from the
// client side.
std::string echo_json(const boost::asio::ip::tcp::endpoint& source, const boost::asio::ip::tcp::endpoint& destination,
                      const boost::asio::ip::tcp::endpoint& original, std::string_view route, std::string_view action);

}  // namespace detour::echo
