#include "detour/daemon/running_proxy.hpp"

#include "detour/config/config_yaml.hpp"
#include "detour/metrics/kernel_limit_metrics.hpp"
#include "detour/metrics/process_metrics.hpp"
#include "detour/net/sockaddr.hpp"
#include "detour/proxy/admission_metrics.hpp"
#include "detour/proxy/proxy_metrics.hpp"
#include "detour/rules/render_nft.hpp"
#include "detour/rules/rule_counters.hpp"

#include <spdlog/spdlog.h>

#include <future>

namespace detour::daemon {

namespace json = boost::json;
using namespace std::chrono_literals;

namespace {

// A worker answers within microseconds unless it is stuck on something far worse than a slow
// admin answer; the bound keeps the admin thread from hanging with it.
constexpr auto worker_answer_timeout = 2s;

json::value endpoint_or_null(const std::optional<boost::asio::ip::tcp::endpoint>& e) {
  return e ? json::value(net::to_string(*e)) : json::value(nullptr);
}

json::object to_json(const proxy::connection_view& v) {
  return {{"id", v.id},
          {"state", v.relaying ? "relaying" : "connecting"},
          {"source", net::to_string(v.source)},
          {"local", net::to_string(v.local)},
          {"original_dst", endpoint_or_null(v.original)},
          {"direction", to_string(v.direction)},
          {"server_name", v.server_name.empty() ? json::value(nullptr) : json::value(v.server_name)},
          {"name_from", v.name_from.empty() ? json::value(nullptr) : json::value(v.name_from)},
          {"route", v.route},
          {"action", v.action},
          {"upstream", v.upstream.empty() ? json::value(nullptr) : json::value(v.upstream)},
          {"server", endpoint_or_null(v.server)},
          {"bytes_up", v.bytes_up},
          {"bytes_down", v.bytes_down},
          {"age_seconds", v.age_seconds},
          {"idle_seconds", v.idle_seconds}};
}

// Closed connections of one closed_counters, by result word.
void add_results(const proxy::closed_counters& closed, std::array<std::uint64_t, std::size(proxy::result_words)>& out) {
  for (std::size_t res = 0; res < out.size(); ++res) {
    for (std::size_t why = 0; why < std::size(proxy::reason_words); ++why) {
      out[res] += closed.get(res, why);
    }
  }
}

}  // namespace

running_proxy::running_proxy(std::vector<std::unique_ptr<proxy::worker>>& workers, proxy::snapshot_ptr snapshot,
                             const proxy::metric_registry& names)
    : workers_(workers), names_(names), snapshot_(std::move(snapshot)) {}

std::vector<const proxy::worker*> running_proxy::worker_view() const {
  std::vector<const proxy::worker*> out;
  out.reserve(workers_.size());
  for (const auto& w : workers_) out.push_back(w.get());
  return out;
}

std::string running_proxy::metrics_text() {
  metrics::families out;
  const auto workers = worker_view();
  proxy::add_proxy_families(out, workers, names_);
  // Every worker admits against the same process-wide counts.
  if (!workers_.empty()) proxy::add_admission_families(out, workers_.front()->admission(), snapshot()->limits);
  std::unique_lock lock(capture_mutex_);
  if (capture_ != nullptr) {
    auto& packets = metrics::add_family(out, "detour_rule_packets_total",
                                        "Packets that matched each of detourd's nft rules (nat: the first of each "
                                        "connection).",
                                        prometheus::MetricType::Counter);
    auto& bytes = metrics::add_family(out, "detour_rule_bytes_total", "Bytes of the packets counted by each rule.",
                                      prometheus::MetricType::Counter);
    try {
      for (const auto& c : rules::read_rule_counters(capture_->plan().table)) {
        metrics::add_value(packets, {{"chain", c.chain}, {"rule", c.rule}}, static_cast<double>(c.packets));
        metrics::add_value(bytes, {{"chain", c.chain}, {"rule", c.rule}}, static_cast<double>(c.bytes));
      }
    } catch (const detour::error& e) {
      // The scrape still answers with everything else; the rules' absence shows as no samples.
      spdlog::warn("admin: reading the rule counters: {}", e.what());
    }
  }
  lock.unlock();
  auto& reloads = metrics::add_family(out, "detour_config_reloads_total", "Configuration reloads, by result.",
                                      prometheus::MetricType::Counter);
  metrics::add_value(reloads, {{"result", "success"}},
                     static_cast<double>(reloads_ok_.load(std::memory_order_relaxed)));
  metrics::add_value(reloads, {{"result", "error"}},
                     static_cast<double>(reloads_failed_.load(std::memory_order_relaxed)));
  metrics::add_process_families(out, metrics::read_process());
  metrics::add_kernel_limit_families(out, net::read_conntrack_usage(), net::read_local_port_range());
  return metrics::to_text(out);
}

json::object running_proxy::stats() {
  const auto current = snapshot();
  const auto& cfg = current->cfg;
  const auto& router = current->router;
  std::array<std::uint64_t, std::size(proxy::result_words)> results{};
  std::uint64_t accepted = 0;
  std::int64_t active = 0;
  std::uint64_t up = 0;
  std::uint64_t down = 0;
  json::array routes;
  const auto& names = router.route_names();
  for (std::size_t r = 0; r < names.size(); ++r) {
    std::array<std::uint64_t, std::size(proxy::result_words)> closed{};
    std::int64_t route_active = 0;
    std::uint64_t route_up = 0;
    std::uint64_t route_down = 0;
    for (const auto& w : workers_) {
      const auto* m = w->metrics().find_route(current->route_slots[r]);
      if (m == nullptr) continue;  // this worker has not adopted the snapshot yet
      add_results(m->closed, closed);
      route_active += m->active.get();
      route_up += m->bytes.up.get();
      route_down += m->bytes.down.get();
    }
    std::uint64_t route_closed = 0;
    for (std::size_t i = 0; i < closed.size(); ++i) {
      results[i] += closed[i];
      route_closed += closed[i];
    }
    active += route_active;
    up += route_up;
    down += route_down;
    routes.push_back(json::object{{"name", names[r]},
                                  {"action", router.action_name(router.route_action_of(r))},
                                  {"active", route_active},
                                  {"closed", route_closed},
                                  {"bytes_up", route_up},
                                  {"bytes_down", route_down}});
  }
  for (const auto& w : workers_) {
    accepted += w->stats().accepted.get();
    add_results(w->metrics().unrouted_closed, results);
  }
  json::object by_result;
  for (std::size_t i = 0; i < results.size(); ++i) by_result[proxy::result_words[i]] = results[i];
  return {{"version", DETOUR_VERSION},
          {"uptime_seconds", std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count()},
          {"ready", ready()},
          {"mode", to_string(cfg.mode)},
          {"port", cfg.port},
          {"workers", workers_.size()},
          {"rules", {{"table", cfg.intercept.table}, {"installed", rules_installed()}}},
          {"connections", {{"accepted", accepted}, {"active", active}}},
          {"bytes", {{"up", up}, {"down", down}}},
          {"results", std::move(by_result)},
          {"routes", std::move(routes)}};
}

json::object running_proxy::connections(const admin::connection_filter& filter) {
  std::vector<std::future<std::vector<proxy::connection_view>>> pending;
  for (auto& w : workers_) pending.push_back(w->connections());
  json::array out;
  for (auto& f : pending) {
    if (f.wait_for(worker_answer_timeout) != std::future_status::ready) continue;
    for (const auto& v : f.get()) {
      if (filter.route && v.route != *filter.route) continue;
      out.push_back(to_json(v));
    }
  }
  return {{"connections", std::move(out)}};
}

bool running_proxy::reset_connection(std::uint64_t id) {
  if (workers_.empty()) return false;
  auto& owner = *workers_[proxy::worker::owner_of(id, static_cast<unsigned>(workers_.size()))];
  auto found = owner.end_session(id, "admin");
  return found.wait_for(worker_answer_timeout) == std::future_status::ready && found.get();
}

std::string running_proxy::config_yaml() { return to_yaml(snapshot()->cfg); }

bool running_proxy::rules_installed() {
  std::lock_guard lock(capture_mutex_);
  return capture_ != nullptr;
}

std::string running_proxy::rules_text() {
  std::lock_guard lock(capture_mutex_);
  if (capture_ == nullptr) return "# no rules installed (intercept.enabled is false)\n";
  return rules::render_with_counters(capture_->plan(), rules::read_rule_counters(capture_->plan().table));
}

void running_proxy::set_reloader(std::function<admin::reload_result()> reloader) {
  std::lock_guard lock(reloader_mutex_);
  reloader_ = std::move(reloader);
}

admin::reload_result running_proxy::reload() {
  std::lock_guard lock(reloader_mutex_);
  if (!reloader_) return {false, "reload is not available"};
  return reloader_();
}

}  // namespace detour::daemon
