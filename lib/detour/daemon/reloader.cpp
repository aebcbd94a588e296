#include "detour/daemon/reloader.hpp"

#include "detour/daemon/running_proxy.hpp"
#include "detour/net/sockaddr.hpp"
#include "detour/proxy/snapshot.hpp"
#include "detour/rules/rules_error.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <systemd/sd-daemon.h>

#include <chrono>
#include <ctime>
#include <functional>

namespace detour::daemon {

namespace {

std::string admin_text(const admin_config& a) {
  if (!a.listen) return "off";
  return net::to_string(*a.listen) + (a.allow_remote ? " (allow_remote)" : "");
}

std::string access_log_text(const access_log_config& a) {
  switch (a.to) {
    case access_log_config::target::off:
      return "off";
    case access_log_config::target::standard_output:
      return "stdout";
    case access_log_config::target::file:
      break;
  }
  return a.path;
}

// One key that only a restart can change, and how to show its value.
struct fixed_key {
  const char* name;
  std::function<std::string(const config&)> show;
};

// Why each is fixed: listeners are bound (port) and threads made (workers) once; the mark is on
// sockets already open and in the installed rules' exclusion; the table, its presence and the
// guard are what the kernel removes when detourd dies; the admin socket and the access log file
// are opened before privileges are dropped, and those cannot be taken back.
const std::vector<fixed_key>& fixed_keys() {
  static const std::vector<fixed_key> keys{
      {"port", [](const config& c) { return std::to_string(c.port); }},
      // As written, so that a change of `port` alone is reported once, as `port`.
      {"intercept.inbound.port",
       [](const config& c) {
         return c.intercept.inbound.port == 0 ? std::string("(same as port)")
                                              : std::to_string(c.intercept.inbound.port);
       }},
      {"workers", [](const config& c) { return c.workers == 0 ? std::string("auto") : std::to_string(c.workers); }},
      {"mark", [](const config& c) { return fmt::format("{:#x}", c.mark); }},
      {"intercept.table", [](const config& c) { return c.intercept.table; }},
      {"intercept.enabled", [](const config& c) { return std::string(c.intercept.enabled ? "true" : "false"); }},
      {"intercept.on_failure", [](const config& c) { return std::string(to_string(c.intercept.on_failure)); }},
      {"user", [](const config& c) { return c.run_as ? c.run_as->user : std::string("(unchanged)"); }},
      {"group", [](const config& c) { return c.run_as ? c.run_as->group : std::string("(unchanged)"); }},
      {"admin", [](const config& c) { return admin_text(c.admin); }},
      {"access_log", [](const config& c) { return access_log_text(c.access_log); }},
  };
  return keys;
}

std::uint64_t monotonic_usec() {
  timespec now{};
  ::clock_gettime(CLOCK_MONOTONIC, &now);
  return static_cast<std::uint64_t>(now.tv_sec) * 1'000'000U + static_cast<std::uint64_t>(now.tv_nsec) / 1000U;
}

}  // namespace

std::vector<std::string> restart_needed(const config& running, const config& next) {
  std::vector<std::string> out;
  for (const auto& key : fixed_keys()) {
    auto was = key.show(running);
    auto now = key.show(next);
    if (was != now)
      out.push_back(fmt::format("`{}` changes need a restart (running: {}, file: {})", key.name, was, now));
  }
  return out;
}

reloader::reloader(const run_options& options, std::vector<std::unique_ptr<proxy::worker>>& workers,
                   running_proxy& proxy, proxy::metric_registry& names, rules::owned_table* capture,
                   rules::guard_table* guard, const config& started_with)
    : options_(options), workers_(workers), proxy_(proxy), names_(names), capture_(capture), guard_(guard) {
  if (capture_ != nullptr) plan_ = rules::make_plan(started_with);
}

void reloader::stop() {
  std::lock_guard lock(mutex_);
  stopping_ = true;
  capture_ = nullptr;
  guard_ = nullptr;
}

admin::reload_result reloader::reload(std::string_view trigger) {
  std::lock_guard lock(mutex_);
  if (stopping_) return {false, "detourd is stopping; the reload was not applied"};
  sd_notifyf(0, "RELOADING=1\nMONOTONIC_USEC=%llu", static_cast<unsigned long long>(monotonic_usec()));
  const auto began = std::chrono::steady_clock::now();
  auto result = apply();
  proxy_.count_reload(result.ok);
  const std::chrono::duration<double, std::milli> took = std::chrono::steady_clock::now() - began;
  if (result.ok) {
    spdlog::info("detourd: reload ({}): {} ({:.1f} ms)", trigger, result.message, took.count());
  } else {
    spdlog::error("detourd: reload ({}) failed, still running the previous config: {}", trigger, result.message);
  }
  // READY=1 either way: a failed reload leaves the previous config serving, which is ready.
  sd_notify(0, "READY=1");
  return result;
}

admin::reload_result reloader::apply() {
  const auto running = proxy_.snapshot();
  std::optional<config> next;
  try {
    next = load_run_config(options_);
  } catch (const detour::error& e) {  // config_error, or a password file that cannot be read
    return {false, e.what()};
  }
  auto fixed = restart_needed(running->cfg, *next);
  if (!fixed.empty()) {
    std::string message = fixed.front();
    for (std::size_t i = 1; i < fixed.size(); ++i) message += "; " + fixed[i];
    return {false, message + "; nothing was changed"};
  }

  proxy::snapshot_ptr snapshot;
  try {
    snapshot = proxy::make_snapshot(*next, names_);
  } catch (const config_error& e) {
    return {false, e.what()};
  }

  const char* rules_word = "no rules";
  if (capture_ != nullptr) {
    auto plan = rules::make_plan(*next);
    if (plan_ && plan == *plan_) {
      rules_word = "rules unchanged";
    } else {
      try {
        capture_->replace(plan);
      } catch (const rules::rules_error& e) {
        return {false, fmt::format("replacing the rules: {}; the previous rules stay installed", e.what())};
      }
      // The guard follows the capture: a guard refused after the capture changed still guards
      // the old exclusions, and says so, since the capture cannot be rolled back either.
      if (guard_ != nullptr) {
        try {
          guard_->replace(rules::make_guard_plan(*next));
        } catch (const rules::rules_error& e) {
          spdlog::error("detourd: reload: the capture rules were replaced but the guard table was not: {}", e.what());
        }
      }
      plan_ = std::move(plan);
      rules_word = "rules replaced";
    }
  }

  // Past this point nothing can fail: the rules are in, and each worker takes the snapshot at its
  // next turn of the event loop.
  if (next->log_level != running->cfg.log_level) spdlog::set_level(spdlog::level::from_str(next->log_level));
  for (auto& w : workers_) w->adopt(snapshot);
  proxy_.set_snapshot(snapshot);
  if (snapshot->limits != running->limits) {
    spdlog::info("detourd: reload: limits now {} (were {}); open connections stay", proxy::describe(snapshot->limits),
                 proxy::describe(running->limits));
  }
  const auto routes = snapshot->router.route_names().size() - 1;
  ++generation_;
  return {true,
          fmt::format("config {} applied: {} route{}, {} upstream{}, {}", generation_, routes, routes == 1 ? "" : "s",
                      next->upstreams.size(), next->upstreams.size() == 1 ? "" : "s", rules_word)};
}

}  // namespace detour::daemon
