#pragma once
#include <boost/asio/ip/tcp.hpp>

#include <string>
#include <string_view>

namespace detour::echo {

// What the `echo: json` route answers with.
struct echo_facts {
  boost::asio::ip::tcp::endpoint source;
  boost::asio::ip::tcp::endpoint destination;  // the address the connection reached: detourd's listener
  boost::asio::ip::tcp::endpoint original;
  std::string_view route;        // the name of the route that matched
  std::string_view action;       // what it does: "echo json"
  std::string_view direction;    // "outbound" or "inbound"
  std::string_view server_name;  // sniffed; empty: none
  std::string_view name_from;    // "sni", "sni_ech_outer", "host"
};

// The `echo: json` route's answer, one line:
//   {"source":"10.0.0.5:51234","destination":"127.0.0.1:15001","original_destination":"93.184.216.34:443",
//    "direction":"outbound","server_name":"www.example.com","name_from":"sni","route":"route 2",
//    "action":"echo json"}
// so that a user can check from the client side what detourd saw and which route that chose.
// server_name and name_from are null when no name was sniffed.
std::string echo_json(const echo_facts& facts);

}  // namespace detour::echo
