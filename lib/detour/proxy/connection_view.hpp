#pragma once
#include "detour/config/config.hpp"

#include <boost/asio/ip/tcp.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace detour::proxy {

// One live connection as GET /connections and `detourd connections` show it: a copy made on the
// worker's thread, so the admin thread never touches a session.
struct connection_view {
  std::uint64_t id = 0;
  bool relaying = false;  // else still connecting
  boost::asio::ip::tcp::endpoint source;
  boost::asio::ip::tcp::endpoint local;
  std::optional<boost::asio::ip::tcp::endpoint> original;
  traffic_direction direction = traffic_direction::outbound;
  std::string server_name;     // sniffed; empty: none
  std::string_view name_from;  // "sni", "sni_ech_outer", "host" (static strings); empty: none
  std::string route;           // the route's name
  std::string action;          // direct, upstream
  std::string upstream;        // the upstream's name; empty when direct
  std::optional<boost::asio::ip::tcp::endpoint> server;
  std::uint64_t bytes_up = 0;
  std::uint64_t bytes_down = 0;
  double age_seconds = 0;
  double idle_seconds = 0;  // since the last byte arrived (since accept while connecting)
};

}  // namespace detour::proxy
