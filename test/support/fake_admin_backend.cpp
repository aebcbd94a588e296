#include "support/fake_admin_backend.hpp"

#include <algorithm>
#include <stdexcept>

namespace detour::test {
namespace {

boost::json::object connection(std::uint64_t id, std::string_view route, boost::json::value upstream) {
  return {{"id", id},
          {"state", "relaying"},
          {"source", "10.0.0.2:40000"},
          {"local", "10.0.0.1:15001"},
          {"original_dst", "10.0.0.3:80"},
          {"route", route},
          {"action", upstream.is_null() ? "direct" : "upstream"},
          {"upstream", upstream},
          {"server", upstream.is_null() ? boost::json::value(nullptr) : boost::json::value("10.0.0.1:1080")},
          {"bytes_up", 10 * id},
          {"bytes_down", 20 * id},
          {"age_seconds", 1.5},
          {"idle_seconds", 0.25}};
}

}  // namespace

fake_admin_backend::fake_admin_backend()
    : live_{connection(17, "corp", "corp"), connection(18, "default", nullptr), connection(19, "route 2", nullptr)} {}

std::string fake_admin_backend::metrics_text() { return metrics; }

boost::json::object fake_admin_backend::stats_document() {
  return boost::json::parse(R"({"version":"0.1.0","uptime_seconds":12.3,"ready":true,"mode":"direct","port":15001,
    "workers":2,"rules":{"table":"detour","installed":true},"connections":{"accepted":100,"active":3},
    "bytes":{"up":1234,"down":5678},"results":{"relayed":90,"refused":5,"rejected":1,"echoed":2,"connect_failed":2},
    "routes":[{"name":"corp","action":"upstream corp","active":1,"closed":12,"bytes_up":100,"bytes_down":200}]})")
      .as_object();
}

boost::json::object fake_admin_backend::stats() {
  if (broken_) throw std::runtime_error("the workers did not answer");
  return stats_document();
}

boost::json::object fake_admin_backend::connections(const admin::connection_filter& filter) {
  std::lock_guard lock(mutex_);
  ++connections_calls_;
  last_route_ = filter.route;
  boost::json::array list;
  for (const auto& c : live_) {
    if (!filter.route || c.at("route").as_string() == *filter.route) list.push_back(c);
  }
  return {{"connections", std::move(list)}};
}

bool fake_admin_backend::reset_connection(std::uint64_t id) {
  std::lock_guard lock(mutex_);
  auto it = std::find_if(live_.begin(), live_.end(),
                         [&](const boost::json::object& c) { return c.at("id").to_number<std::uint64_t>() == id; });
  if (it == live_.end()) return false;
  live_.erase(it);
  return true;
}

std::string fake_admin_backend::config_yaml() { return config; }

std::string fake_admin_backend::rules_text() { return rules; }

admin::reload_result fake_admin_backend::reload() {
  std::lock_guard lock(mutex_);
  ++reload_calls_;
  return reload_result_;
}

void fake_admin_backend::set_reload_result(admin::reload_result result) {
  std::lock_guard lock(mutex_);
  reload_result_ = std::move(result);
}

std::size_t fake_admin_backend::reload_calls() const {
  std::lock_guard lock(mutex_);
  return reload_calls_;
}

std::optional<std::string> fake_admin_backend::last_route_filter() const {
  std::lock_guard lock(mutex_);
  return last_route_;
}

std::size_t fake_admin_backend::connections_calls() const {
  std::lock_guard lock(mutex_);
  return connections_calls_;
}

std::vector<std::uint64_t> fake_admin_backend::live_ids() const {
  std::lock_guard lock(mutex_);
  std::vector<std::uint64_t> ids;
  for (const auto& c : live_) ids.push_back(c.at("id").to_number<std::uint64_t>());
  return ids;
}

}  // namespace detour::test
