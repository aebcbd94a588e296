#include "detour/daemon/run.hpp"

#include "detour/access_log/access_log.hpp"
#include "detour/admin/admin_server.hpp"
#include "detour/admin/status_page.hpp"
#include "detour/config/run_as.hpp"
#include "detour/daemon/pidfile.hpp"
#include "detour/daemon/privileges.hpp"
#include "detour/daemon/reloader.hpp"
#include "detour/daemon/running_proxy.hpp"
#include "detour/daemon/startup_error.hpp"
#include "detour/daemon/watchdog.hpp"
#include "detour/net/descriptor_limit.hpp"
#include "detour/net/sockaddr.hpp"
#include "detour/net/socket_options.hpp"
#include "detour/proxy/listener.hpp"
#include "detour/proxy/snapshot.hpp"
#include "detour/proxy/worker.hpp"
#include "detour/rules/capture_self_test.hpp"
#include "detour/rules/guard_table.hpp"
#include "detour/rules/owned_table.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <systemd/sd-daemon.h>
#include <boost/asio/ip/tcp.hpp>

#include <sys/socket.h>
#include <unistd.h>
#include <csignal>

#include <algorithm>
#include <chrono>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

namespace detour::daemon {

namespace asio = boost::asio;
using asio::ip::tcp;
using namespace std::chrono_literals;

namespace {

// SO_MARK needs CAP_NET_ADMIN; find out now rather than on the first connection.
void check_mark_privilege(std::uint32_t mark) {
  if (mark == 0) return;
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return;
  auto ec = net::set_mark(fd, mark);
  ::close(fd);
  if (ec) {
    throw startup_error(
        fmt::format("mark {:#x}: setting SO_MARK failed: {} (needs CAP_NET_ADMIN: run as root or grant the capability, "
                    "or set mark: 0 and exclude detourd's user with intercept.exclude_self_uid)",
                    mark, ec.message()));
  }
}

bool ipv6_available() {
  int fd = ::socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  ::close(fd);
  return true;
}

sigset_t handled_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  sigaddset(&set, SIGUSR1);
  return set;
}

// Opened before any worker exists, so an unwritable path stops detourd before anything changes.
std::unique_ptr<access_log::writer> open_access_log(const access_log_config& cfg) {
  switch (cfg.to) {
    case access_log_config::target::off:
      return nullptr;
    case access_log_config::target::standard_output:
      return std::make_unique<access_log::writer>("");
    case access_log_config::target::file:
      break;
  }
  return std::make_unique<access_log::writer>(cfg.path);  // open_error: exit 1, naming the path
}

void reopen_access_log(access_log::writer* log) {
  if (log == nullptr) {
    spdlog::info("detourd: SIGUSR1: the access log is off; nothing to reopen");
    return;
  }
  try {
    log->reopen();
    spdlog::info("detourd: SIGUSR1: reopened access log {}", log->name());
  } catch (const access_log::open_error& e) {
    spdlog::error("detourd: SIGUSR1: {}; still writing to the file opened before", e.what());
  }
}

}  // namespace

config load_run_config(const run_options& options) {
  auto cfg = options.config_path.empty() ? default_config() : load_config_file(options.config_path);
  if (options.mode_override) cfg.mode = *options.mode_override;
  if (options.port_override) cfg.port = *options.port_override;
  if (options.workers_override) cfg.workers = *options.workers_override;
  if (options.user_override) {
    auto resolved = resolve_run_as(*options.user_override, "");
    if (auto* problem = std::get_if<run_as_problem>(&resolved)) throw config_error("--user: " + problem->reason);
    cfg.run_as = std::get<run_as_config>(resolved);
  }
  return cfg;
}

namespace {

// What the signal loop hands back: the signal, or 0 when the wait timed out.
int wait_signal(const sigset_t& signals, std::chrono::milliseconds timeout) {
  const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(timeout);
  const timespec ts{static_cast<time_t>(seconds.count()), static_cast<long>((timeout - seconds).count() * 1'000'000)};
  siginfo_t info{};
  const int sig = ::sigtimedwait(&signals, &info, &ts);
  return sig < 0 ? 0 : sig;
}

const char* signal_name(int sig) { return sig == SIGTERM ? "SIGTERM" : sig == SIGINT ? "SIGINT" : "SIGHUP"; }

std::vector<const proxy::worker*> view(const std::vector<std::unique_ptr<proxy::worker>>& workers) {
  std::vector<const proxy::worker*> out;
  out.reserve(workers.size());
  for (const auto& w : workers) out.push_back(w.get());
  return out;
}

// systemd's STATUS=: what `systemctl status` shows under the unit.
std::string status_line(const config& cfg, const std::vector<std::unique_ptr<proxy::worker>>& workers,
                        const proxy::metric_registry& names) {
  std::uint64_t accepted = 0;
  std::int64_t active = 0;
  const auto slots = names.routes.names().size();
  for (const auto& w : workers) {
    accepted += w->stats().accepted.get();
    for (std::size_t slot = 0; slot < slots; ++slot) {
      if (const auto* m = w->metrics().find_route(slot)) active += m->active.get();
    }
  }
  return fmt::format("STATUS=relaying on port {} ({} mode): {} active, {} accepted", cfg.port, to_string(cfg.mode),
                     active, accepted);
}

void notify_status(const config& cfg, const std::vector<std::unique_ptr<proxy::worker>>& workers,
                   const proxy::metric_registry& names) {
  sd_notify(0, status_line(cfg, workers, names).c_str());
}

// After the rules are gone: waits for the workers' sessions to finish, up to drain_timeout (the
// workers end the rest themselves). A second SIGTERM/SIGINT ends them all at once.
void drain(std::vector<std::unique_ptr<proxy::worker>>& workers, const sigset_t& signals, const config& cfg,
           const watchdog& dog, access_log::writer* access_log) {
  for (auto& w : workers) w->stop(cfg.drain_timeout);
  const auto period = dog.enabled() ? std::min<std::chrono::milliseconds>(dog.period(), 100ms) : 100ms;
  bool hurried = false;
  for (;;) {
    const bool done = std::all_of(workers.begin(), workers.end(), [](const auto& w) { return w->finished(); });
    if (done) break;
    const int sig = wait_signal(signals, period);
    dog.ping();
    if ((sig == SIGTERM || sig == SIGINT) && !hurried) {
      spdlog::warn("detourd: {} during the drain: resetting every connection now", signal_name(sig));
      for (auto& w : workers) w->end_now();
      hurried = true;
    } else if (sig == SIGHUP) {
      spdlog::warn("detourd: SIGHUP during the drain: not reloading");
    } else if (sig == SIGUSR1) {
      reopen_access_log(access_log);
    }
  }
  for (auto& w : workers) w->join();
}

}  // namespace

int run(const run_options& options, const config& cfg) {
  // Blocked before any thread exists, so every worker inherits the mask and only the waits below
  // ever see these signals.
  auto signals = handled_signals();
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  ::signal(SIGPIPE, SIG_IGN);

  check_mark_privilege(cfg.mark);
  // Each connection costs four descriptors at peak (two sockets, and a pipe pair while bytes move).
  const auto descriptors = net::raise_descriptor_limit();
  auto access_log = open_access_log(cfg.access_log);

  // With a port of its own for prerouting captures, each listener knows its direction; one port
  // for both leaves it to the hook (proxy/capture_direction).
  struct listening {
    tcp::endpoint endpoint;
    std::optional<traffic_direction> direction;
  };
  const bool split = cfg.inbound_port() != cfg.port;
  std::vector<listening> endpoints;
  const bool v6 = ipv6_available();
  if (!v6) spdlog::warn("detourd: IPv6 is not available; listening on IPv4 only");
  auto add_port = [&](std::uint16_t port, std::optional<traffic_direction> direction) {
    endpoints.push_back({{asio::ip::address_v4::any(), port}, direction});
    if (v6) endpoints.push_back({{asio::ip::address_v6::any(), port}, direction});
  };
  add_port(cfg.port, split ? std::optional(traffic_direction::outbound) : std::nullopt);
  if (split) add_port(cfg.inbound_port(), traffic_direction::inbound);
  for (const auto& l : endpoints) proxy::ensure_port_free(l.endpoint);

  const unsigned count = cfg.workers != 0 ? cfg.workers : std::max(1U, std::thread::hardware_concurrency());
  proxy::metric_registry names;
  auto snapshot = proxy::make_snapshot(cfg, names);
  spdlog::info("detourd: {}", proxy::describe(snapshot->limits));
  // Outlives the workers: every session's ticket goes back to it.
  proxy::admission admission;
  std::vector<std::unique_ptr<proxy::worker>> workers;
  for (unsigned i = 0; i < count; ++i) {
    workers.push_back(std::make_unique<proxy::worker>(i, count, snapshot));
    for (const auto& l : endpoints) workers.back()->listen(l.endpoint, l.direction);
    if (access_log) workers.back()->log_access_to(*access_log);
    workers.back()->admit_with(admission);
  }
  std::optional<pidfile> pid;
  if (!options.pidfile.empty()) pid.emplace(options.pidfile);

  running_proxy proxy(workers, snapshot, names);
  std::optional<admin::admin_server> admin_endpoint;
  if (cfg.admin.listen) admin_endpoint.emplace(*cfg.admin.listen, proxy, admin::status_page());

  // Before the capture, so that a captured connection is never unguarded (on_failure: closed).
  auto guard = rules::install_guard(cfg);
  // Listeners are bound, so nothing is redirected to a closed port. The table is owned by this
  // process: if detourd dies, the kernel removes it and traffic flows directly again.
  auto capture = rules::install_owned_rules(cfg);
  proxy.set_capture(capture.get());
  reloader reload(options, workers, proxy, names, capture.get(), guard.get(), cfg);
  proxy.set_reloader([&reload] { return reload.reload("POST /reload"); });
  // The admin thread may outlive `reload` when the start fails below: it must not call it then.
  struct forget_reloader {
    running_proxy& proxy;
    ~forget_reloader() { proxy.set_reloader(nullptr); }
  } forget{proxy};
  if (cfg.run_as) drop_privileges(*cfg.run_as, std::min(cfg.port, cfg.inbound_port()) < 1024);

  // Threads start only from here on, after anything that changes the process's privileges.
  if (access_log) access_log->start();
  for (auto& w : workers) w->start();
  if (admin_endpoint) {
    admin_endpoint->start();
    spdlog::info("detourd: admin endpoint on http://{}/", net::to_string(admin_endpoint->local_endpoint()));
  }
  // Before READY: a capture that cannot work stops the start here (exit 1; the rules go with it).
  if (capture && cfg.intercept.self_test) rules::run_capture_self_test(cfg);
  proxy.set_ready(true);
  // Logged once the start has succeeded: a failed start says only why it failed.
  spdlog::info("{}", net::describe(descriptors));
  spdlog::info("detourd: ready: mode {}, port {}{}, {} worker{}", to_string(cfg.mode), cfg.port,
               split ? fmt::format(" (inbound {})", cfg.inbound_port()) : std::string(), count, count == 1 ? "" : "s");
  sd_notifyf(0, "READY=1\nMAINPID=%d\n%s", static_cast<int>(::getpid()), status_line(cfg, workers, names).c_str());

  watchdog dog(workers.front()->tick_period());
  if (dog.enabled())
    spdlog::info("detourd: systemd watchdog: pinging every {}ms while every worker ticks", dog.period().count());
  // STATUS= is refreshed this often; the watchdog may need a shorter wait.
  const auto status_period = std::chrono::milliseconds(5000);
  const auto wait = dog.enabled() ? std::min(dog.period(), status_period) : status_period;
  auto next_status = std::chrono::steady_clock::now() + status_period;
  int stop_signal = 0;
  while (stop_signal == 0) {
    const int sig = wait_signal(signals, wait);
    if (sig == SIGHUP) {
      reload.reload("SIGHUP");
      notify_status(proxy.snapshot()->cfg, workers, names);
    } else if (sig == SIGUSR1) {
      reopen_access_log(access_log.get());
    } else if (sig == SIGTERM || sig == SIGINT) {
      stop_signal = sig;
    }
    dog.check(view(workers));
    if (std::chrono::steady_clock::now() >= next_status) {
      notify_status(proxy.snapshot()->cfg, workers, names);
      next_status = std::chrono::steady_clock::now() + status_period;
    }
  }
  const auto drain_timeout = proxy.snapshot()->cfg.drain_timeout;
  spdlog::info("detourd: {} received; draining for up to {}ms", signal_name(stop_signal), drain_timeout.count());
  proxy.set_ready(false);
  sd_notify(0, "STOPPING=1");
  // Capture stops before the listeners close, so no new connection is redirected to a port that
  // is about to close: they go direct instead. The guard goes first: connections made while
  // detourd drains go direct rather than being reset. The capture table itself stays until the
  // drain is over (see rules::draining_plan).
  reload.stop();
  guard.reset();
  if (capture) capture->stop_capturing();

  drain(workers, signals, proxy.snapshot()->cfg, dog, access_log.get());
  proxy.set_capture(nullptr);
  capture.reset();
  // After the drain, so that /ready answers 503 for as long as it lasts.
  if (admin_endpoint) admin_endpoint->stop();
  // Every worker has handed over its last lines.
  if (access_log) access_log->stop();

  proxy::stats total;
  for (const auto& w : workers) total.add(w->stats());
  std::string line = "detourd: stopped:";
  total.for_each([&line](std::string_view name, std::uint64_t value) {
    fmt::format_to(std::back_inserter(line), " {}={}", name, value);
  });
  spdlog::info("{}", line);
  return 0;
}

}  // namespace detour::daemon
