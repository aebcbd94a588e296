#include "detour/proxy/access_log_entry.hpp"

#include "detour/net/sockaddr.hpp"

#include <fmt/format.h>
#include <boost/json.hpp>

#include <array>

namespace detour::proxy {

namespace json = boost::json;

namespace {

// RFC 3339 in UTC with milliseconds: 2026-12-02T01:02:03.456Z.
std::string rfc3339_ms(std::chrono::system_clock::time_point t) {
  using namespace std::chrono;
  const auto ms = floor<milliseconds>(t);
  const auto day = floor<days>(ms);
  const year_month_day date{day};
  const hh_mm_ss time{ms - day};
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", static_cast<int>(date.year()),
                     static_cast<unsigned>(date.month()), static_cast<unsigned>(date.day()), time.hours().count(),
                     time.minutes().count(), time.seconds().count(), time.subseconds().count());
}

double ms_between(session_record::clock::time_point from, session_record::clock::time_point to) {
  return std::chrono::duration<double, std::milli>(to - from).count();
}

std::string_view action_word(route_kind kind) {
  switch (kind) {
    case route_kind::direct:
      return "direct";
    case route_kind::upstream:
      return "upstream";
    case route_kind::echo:
    case route_kind::echo_json:
      return "echo";
    case route_kind::reject:
      break;
  }
  return "reject";
}

json::value endpoint_or_null(const std::optional<boost::asio::ip::tcp::endpoint>& e, json::storage_ptr sp) {
  if (!e) return nullptr;
  return json::string(net::to_string(*e), std::move(sp));
}

}  // namespace

void append_access_log_entry(std::string& out, const session_record& r, outcome how,
                             std::chrono::system_clock::time_point end) {
  // Every allocation of the object goes to this stack buffer; an entry never touches the heap
  // but for the endpoint strings and what `out` grows by.
  std::array<unsigned char, 2048> arena;
  json::monotonic_resource resource(arena.data(), arena.size());
  json::storage_ptr sp(&resource);

  json::object entry(19, sp);
  entry["time"] = rfc3339_ms(end);
  entry["id"] = r.id;
  entry["source"] = net::to_string(r.source);
  entry["local"] = net::to_string(r.local);
  entry["original_dst"] = endpoint_or_null(r.original, sp);
  entry["direction"] = to_string(r.direction);
  entry["server_name"] = r.server_name.empty() ? json::value(nullptr) : json::value(json::string(r.server_name, sp));
  entry["name_from"] = r.server_name.empty() ? json::value(nullptr) : json::value(to_string(r.name_from));
  json::value route(sp);
  json::value action(sp);
  json::value upstream(sp);
  if (r.decision) {
    route = json::string(r.snapshot->router.route_name(*r.decision), sp);
    action = json::string(action_word(r.decision->action.kind), sp);
    if (r.decision->action.kind == route_kind::upstream) {
      json::object via(2, sp);
      via["name"] = r.snapshot->cfg.upstreams.at(r.decision->action.upstream).name;
      via["server"] = endpoint_or_null(r.server, sp);
      upstream = std::move(via);
    }
  }
  entry["route"] = std::move(route);
  entry["action"] = std::move(action);
  entry["upstream"] = std::move(upstream);
  entry["result"] = result_of(how);
  // The full text where the word alone would hide which limit or which failure it was.
  entry["reason"] =
      how == outcome::connect_failed || how == outcome::over_limit ? std::string_view(r.reason) : reason_label(r, how);
  entry["bytes_up"] = r.bytes_up;
  entry["bytes_down"] = r.bytes_down;
  const auto now = session_record::clock::now();
  entry["duration_ms"] = ms_between(r.start, now);
  entry["connect_ms"] = r.connected ? json::value(ms_between(r.start, *r.connected)) : json::value(nullptr);

  json::serializer serializer;
  serializer.reset(&entry);
  std::array<char, 1024> chunk;
  while (!serializer.done()) out.append(serializer.read(chunk.data(), chunk.size()));
  out += '\n';
}

}  // namespace detour::proxy
