#include "detour/daemon/run.hpp"

#include "detour/access_log/access_log.hpp"
#include "detour/admin/admin_server.hpp"
#include "detour/admin/status_page.hpp"
#include "detour/daemon/running_proxy.hpp"
#include "detour/daemon/startup_error.hpp"
#include "detour/net/sockaddr.hpp"
#include "detour/net/socket_options.hpp"
#include "detour/proxy/listener.hpp"
#include "detour/proxy/snapshot.hpp"
#include "detour/proxy/worker.hpp"
#include "detour/rules/guard_table.hpp"
#include "detour/rules/owned_table.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <systemd/sd-daemon.h>
#include <boost/asio/ip/tcp.hpp>

#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>
#include <csignal>

#include <memory>
#include <optional>
#include <thread>
#include <vector>

namespace detour::daemon {

namespace asio = boost::asio;
using asio::ip::tcp;

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

// Each connection costs three descriptors at peak (two sockets, and a pipe pair while bytes move).
void raise_descriptor_limit() {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    (void)::setrlimit(RLIMIT_NOFILE, &limit);
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
  return cfg;
}

int run(const run_options& options, const config& cfg) {
  (void)options;
  // Blocked before any thread exists, so every worker inherits the mask and only sigwaitinfo below
  // ever sees these signals.
  auto signals = handled_signals();
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  ::signal(SIGPIPE, SIG_IGN);

  check_mark_privilege(cfg.mark);
  raise_descriptor_limit();
  auto access_log = open_access_log(cfg.access_log);

  std::vector<tcp::endpoint> endpoints{{asio::ip::address_v4::any(), cfg.port}};
  if (ipv6_available()) {
    endpoints.emplace_back(asio::ip::address_v6::any(), cfg.port);
  } else {
    spdlog::warn("detourd: IPv6 is not available; listening on IPv4 only");
  }
  for (const auto& endpoint : endpoints) proxy::ensure_port_free(endpoint);

  const unsigned count = cfg.workers != 0 ? cfg.workers : std::max(1U, std::thread::hardware_concurrency());
  auto snapshot = proxy::make_snapshot(cfg);
  std::vector<std::unique_ptr<proxy::worker>> workers;
  for (unsigned i = 0; i < count; ++i) {
    workers.push_back(std::make_unique<proxy::worker>(i, count, snapshot));
    for (const auto& endpoint : endpoints) workers.back()->listen(endpoint);
    if (access_log) workers.back()->log_access_to(*access_log);
  }

  running_proxy proxy(workers, snapshot);
  std::optional<admin::admin_server> admin_endpoint;
  if (cfg.admin.listen) admin_endpoint.emplace(*cfg.admin.listen, proxy, admin::status_page());

  // Before the capture, so that a captured connection is never unguarded (on_failure: closed).
  auto guard = rules::install_guard(cfg);
  // Listeners are bound, so nothing is redirected to a closed port. The table is owned by this
  // process: if detourd dies, the kernel removes it and traffic flows directly again.
  auto capture = rules::install_owned_rules(cfg);
  proxy.set_capture(capture.get());

  // Threads start only from here on, after anything that changes the process's privileges.
  if (access_log) access_log->start();
  for (auto& w : workers) w->start();
  if (admin_endpoint) {
    admin_endpoint->start();
    spdlog::info("detourd: admin endpoint on http://{}/", net::to_string(admin_endpoint->local_endpoint()));
  }
  proxy.set_ready(true);
  spdlog::info("detourd: ready: mode {}, port {}, {} worker{}", to_string(cfg.mode), cfg.port, count,
               count == 1 ? "" : "s");
  sd_notifyf(0, "READY=1\nSTATUS=relaying on port %u (%s mode)\nMAINPID=%d", cfg.port,
             std::string(to_string(cfg.mode)).c_str(), static_cast<int>(::getpid()));

  for (;;) {
    siginfo_t info{};
    int sig = ::sigwaitinfo(&signals, &info);
    if (sig == SIGHUP) {
      spdlog::warn("detourd: SIGHUP: configuration reload is not supported yet; keeping the running config");
      continue;
    }
    if (sig == SIGUSR1) {
      reopen_access_log(access_log.get());
      continue;
    }
    if (sig == SIGTERM || sig == SIGINT) {
      spdlog::info("detourd: {} received; draining for up to {}ms", sig == SIGTERM ? "SIGTERM" : "SIGINT",
                   cfg.drain_timeout.count());
      break;
    }
  }
  proxy.set_ready(false);
  sd_notify(0, "STOPPING=1");
  // Rules go before the listeners stop accepting, so no new connection is redirected to a port
  // that is about to close.
  // The guard first: connections made while detourd drains go direct rather than being reset.
  guard.reset();
  proxy.set_capture(nullptr);
  capture.reset();

  for (auto& w : workers) w->stop(cfg.drain_timeout);
  for (auto& w : workers) w->join();
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
