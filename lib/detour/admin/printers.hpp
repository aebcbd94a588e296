#pragma once
// What `detourd status` and `detourd connections` print, from the admin endpoint's JSON (the
// /stats and /connections schemas). Throws std::exception for JSON that lacks a field they show.
#include <boost/json.hpp>

#include <ostream>
#include <string>

namespace detour::admin {

// A summary: version, uptime, readiness, mode, rules, counts, bytes, results; then one line per route.
void print_status(const boost::json::object& stats, std::ostream& out);

// An `ss`-like table, one line per live connection.
void print_connections(const boost::json::object& connections, std::ostream& out);

// 1536 -> "1.5 KiB"; below 1 KiB in bytes: "999 B".
std::string human_bytes(double bytes);
// 4.25 -> "4.2s", 125 -> "2m05s", 7384 -> "2h03m", 90000 -> "1d01h".
std::string human_duration(double seconds);

}  // namespace detour::admin
