#pragma once
// A stand-in for the daemon behind the admin endpoint: fixed answers the tests can compare with, a
// list of live connections that reset_connection() really removes, and a record of what it was
// asked, so a test sees what the server forwarded.
#include "detour/admin/admin_backend.hpp"

#include <atomic>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace detour::test {

class fake_admin_backend : public admin::backend {
 public:
  fake_admin_backend();

  bool ready() const override { return ready_; }
  std::string metrics_text() override;
  boost::json::object stats() override;
  boost::json::object connections(const admin::connection_filter& filter) override;
  bool reset_connection(std::uint64_t id) override;
  std::string config_yaml() override;
  std::string rules_text() override;
  // Answers with the result set by set_reload_result() (ok, "reloaded" unless set), counting calls.
  admin::reload_result reload() override;

  void set_ready(bool ready) { ready_ = ready; }
  // While broken, stats() throws, as a daemon whose workers do not answer in time might.
  void set_broken(bool broken) { broken_ = broken; }
  // The route filter of the last connections() call (nullopt: none given); never called: nullopt too.
  std::optional<std::string> last_route_filter() const;
  std::size_t connections_calls() const;
  std::vector<std::uint64_t> live_ids() const;
  void set_reload_result(admin::reload_result result);
  std::size_t reload_calls() const;

  // What the fixed answers are, for comparing.
  static boost::json::object stats_document();
  static constexpr const char* metrics =
      "# TYPE detour_connections_accepted_total counter\n"
      "detour_connections_accepted_total 100\n";
  static constexpr const char* config = "mode: direct\nport: 15001\n";
  static constexpr const char* rules = "table inet detour {\n}\n";

 private:
  std::atomic<bool> ready_{true};
  std::atomic<bool> broken_{false};
  mutable std::mutex mutex_;
  std::vector<boost::json::object> live_;
  std::optional<std::string> last_route_;
  std::size_t connections_calls_ = 0;
  admin::reload_result reload_result_{true, "reloaded"};
  std::size_t reload_calls_ = 0;
};

}  // namespace detour::test
