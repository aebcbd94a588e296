#include "detour/echo/echo_json.hpp"

#include "detour/net/sockaddr.hpp"

#include <boost/json.hpp>

namespace detour::echo {

std::string echo_json(const echo_facts& f) {
  boost::json::object line;
  line["source"] = net::to_string(f.source);
  line["destination"] = net::to_string(f.destination);
  line["original_destination"] = net::to_string(f.original);
  line["direction"] = f.direction;
  line["server_name"] = f.server_name.empty() ? boost::json::value(nullptr) : boost::json::value(f.server_name);
  line["name_from"] = f.server_name.empty() ? boost::json::value(nullptr) : boost::json::value(f.name_from);
  line["route"] = f.route;
  line["action"] = f.action;
  return boost::json::serialize(line) + "\n";
}

}  // namespace detour::echo
