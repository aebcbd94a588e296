#pragma once
#include <boost/json.hpp>

#include <cstdint>
#include <optional>
#include <string>

namespace detour::admin {

// How a reload ended. Not ok: nothing changed and `message` says why (a config error names
// FILE:LINE:COLUMN, the key and the reason); ok: `message` says what now runs.
struct reload_result {
  bool ok = false;
  std::string message;
};

struct connection_filter {
  std::optional<std::string> route;  // a route's name; nullopt: every route
};

// What the admin endpoint shows and does; implemented by the daemon over its workers. Called on the
// admin thread only; an implementation may wait (bounded) for the workers' answers.
class backend {
 public:
  virtual ~backend() = default;
  virtual bool ready() const = 0;           // listeners bound and rules installed, not draining
  virtual std::string metrics_text() = 0;   // Prometheus text exposition format 0.0.4
  virtual boost::json::object stats() = 0;  // the /stats schema
  virtual boost::json::object connections(const connection_filter& filter) = 0;  // the /connections schema
  virtual bool reset_connection(std::uint64_t id) = 0;  // false: no live connection with that id
  virtual std::string config_yaml() = 0;                // effective config, secrets redacted
  virtual std::string rules_text() = 0;                 // our nft table as text with its counters
  virtual reload_result reload() = 0;                   // reads and applies the config file again, as SIGHUP does
};

}  // namespace detour::admin
