#include "detour/admin/printers.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <vector>

namespace detour::admin {
namespace {

using row = std::vector<std::string>;

double number(const boost::json::object& o, std::string_view key) { return o.at(key).to_number<double>(); }

std::string count(const boost::json::object& o, std::string_view key) {
  return fmt::format("{}", o.at(key).to_number<std::uint64_t>());
}

// A string field, or "-" where the schema allows null (a direct connection has no upstream).
std::string text(const boost::json::object& o, std::string_view key) {
  const auto& v = o.at(key);
  return v.is_null() ? std::string("-") : std::string(v.as_string());
}

// Columns padded to their widest cell and two spaces apart, the last one not padded.
void print_table(const std::vector<row>& rows, std::ostream& out) {
  std::vector<std::size_t> widths;
  for (const auto& r : rows) {
    widths.resize(std::max(widths.size(), r.size()));
    for (std::size_t i = 0; i < r.size(); ++i) widths[i] = std::max(widths[i], r[i].size());
  }
  for (const auto& r : rows) {
    std::string line;
    for (std::size_t i = 0; i < r.size(); ++i) {
      line += r[i];
      if (i + 1 < r.size()) line.append(widths[i] - r[i].size() + 2, ' ');
    }
    out << line << "\n";
  }
}

}  // namespace

std::string human_bytes(double bytes) {
  constexpr std::array<const char*, 5> units{"KiB", "MiB", "GiB", "TiB", "PiB"};
  if (bytes < 1024) return fmt::format("{:.0f} B", bytes);
  std::size_t unit = 0;
  bytes /= 1024;
  while (bytes >= 1024 && unit + 1 < units.size()) {
    bytes /= 1024;
    ++unit;
  }
  return fmt::format("{:.1f} {}", bytes, units[unit]);
}

std::string human_duration(double seconds) {
  if (seconds < 60) return fmt::format("{:.1f}s", seconds);
  auto whole = static_cast<std::uint64_t>(seconds);
  if (whole < 3600) return fmt::format("{}m{:02}s", whole / 60, whole % 60);
  if (whole < 86400) return fmt::format("{}h{:02}m", whole / 3600, whole % 3600 / 60);
  return fmt::format("{}d{:02}h", whole / 86400, whole % 86400 / 3600);
}

void print_status(const boost::json::object& stats, std::ostream& out) {
  const auto& rules = stats.at("rules").as_object();
  const auto& connections = stats.at("connections").as_object();
  const auto& bytes = stats.at("bytes").as_object();
  out << fmt::format("detourd {}, up {}, {}\n", text(stats, "version"), human_duration(number(stats, "uptime_seconds")),
                     stats.at("ready").as_bool() ? "ready" : "not ready");
  out << fmt::format("mode {}, port {}, {} workers, rules table {} {}\n", text(stats, "mode"), count(stats, "port"),
                     count(stats, "workers"), text(rules, "table"),
                     rules.at("installed").as_bool() ? "installed" : "not installed");
  out << fmt::format("connections: {} accepted, {} active\n", count(connections, "accepted"),
                     count(connections, "active"));
  out << fmt::format("bytes: {} up, {} down\n", human_bytes(number(bytes, "up")), human_bytes(number(bytes, "down")));
  std::vector<std::string> results;
  for (const auto& [name, value] : stats.at("results").as_object()) {
    results.push_back(fmt::format("{} {}", std::string_view(name), value.to_number<std::uint64_t>()));
  }
  out << fmt::format("results: {}\n\n", fmt::join(results, ", "));

  std::vector<row> rows{{"ROUTE", "ACTION", "ACTIVE", "CLOSED", "UP", "DOWN"}};
  for (const auto& item : stats.at("routes").as_array()) {
    const auto& r = item.as_object();
    rows.push_back({text(r, "name"), text(r, "action"), count(r, "active"), count(r, "closed"),
                    human_bytes(number(r, "bytes_up")), human_bytes(number(r, "bytes_down"))});
  }
  print_table(rows, out);
}

// "out" and "in": the column stays narrow.
std::string direction_word(const std::string& direction) {
  if (direction == "outbound") return "out";
  if (direction == "inbound") return "in";
  return direction;
}

void print_connections(const boost::json::object& connections, std::ostream& out) {
  std::vector<row> rows{
      {"ID", "STATE", "DIR", "SOURCE", "ORIGINAL DST", "NAME", "ROUTE", "UPSTREAM", "UP", "DOWN", "AGE", "IDLE"}};
  for (const auto& item : connections.at("connections").as_array()) {
    const auto& c = item.as_object();
    // A detourd older than the direction and name fields shows "-" there rather than failing.
    auto optional_text = [&c](std::string_view key) { return c.contains(key) ? text(c, key) : std::string("-"); };
    rows.push_back({count(c, "id"), text(c, "state"), direction_word(optional_text("direction")), text(c, "source"),
                    text(c, "original_dst"), optional_text("server_name"), text(c, "route"), text(c, "upstream"),
                    human_bytes(number(c, "bytes_up")), human_bytes(number(c, "bytes_down")),
                    human_duration(number(c, "age_seconds")), human_duration(number(c, "idle_seconds"))});
  }
  print_table(rows, out);
}

}  // namespace detour::admin
