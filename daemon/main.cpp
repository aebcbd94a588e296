// detourd: the command line. Everything it runs lives in the core library.
#include "detour/admin/admin_client.hpp"
#include "detour/config/config.hpp"
#include "detour/daemon/reload_signal.hpp"
#include "detour/daemon/run.hpp"
#include "detour/doctor/doctor.hpp"
#include "detour/error.hpp"
#include "detour/rules/rules_commands.hpp"

#include <fmt/format.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>

#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <optional>
#include <string>

namespace {

constexpr const char* description = R"(detourd - transparent TCP proxy daemon

The kernel's nftables `redirect` sends TCP connections to detourd's port; detourd recovers each
connection's original destination (SO_ORIGINAL_DST / IP6T_SO_ORIGINAL_DST) and relays it there
with splice(2), answers it with an echo line, or resets it.

Without a subcommand, detourd runs as `detourd run`.)";

constexpr const char* footer = R"(
Examples:
  detourd run                          relay with the built-in default configuration
  detourd run -c /etc/detour/detour.yaml
  detourd run --mode echo --port 15001 show what a redirected connection looks like
  detourd check -c detour.yaml         validate a configuration file and exit
  detourd rules show -c detour.yaml    print the nftables rules `run` would install
  detourd rules show --counters        the installed rules with their packet and byte counters
  detourd status                       uptime, counts by route and result, bytes (from admin.listen)
  detourd connections --route corp     the live connections of one route, as a table
  detourd connections --json --admin 127.0.0.1:15000
  detourd reload                       reread the config file (POST /reload on admin.listen)
  detourd reload --pidfile /run/detourd.pid   the same by SIGHUP to the pid in the file
  detourd doctor -c detour.yaml        check this host for what detourd needs

`detourd doctor` prints one line per check, `OK|WARN|FAIL  CHECK: FINDING[; fix: WHAT TO DO]`:
nftables nat and SO_ORIGINAL_DST per family (tested in a throw-away network namespace, never the
host's), conntrack, capabilities, descriptor limits, fs.pipe-user-pages-soft, conntrack table
use, net.ipv4.ip_local_port_range, and other nat chains that see connections before detourd's.
It changes nothing on the host and exits 1 when a check FAILs, else 0.

Signals: SIGTERM/SIGINT drain and stop (a second one resets what is left); SIGHUP reloads the config
file; SIGUSR1 reopens the access log. Exit status: 0 success, 1 configuration or startup error,
2 command-line usage error. Configuration reference: config/detour.yaml (every key, default, unit).)";

// Logs go to stderr (stdout is for command output). Under systemd the journal stamps each line, so
// the timestamp is left out there.
void setup_logging(const std::string& level) {
  auto logger = spdlog::stderr_color_mt("detourd");
  // Before any thread exists, so the environment cannot change under getenv.
  const bool journal = std::getenv("JOURNAL_STREAM") != nullptr;  // NOLINT(concurrency-mt-unsafe)
  logger->set_pattern(journal ? "[%l] %v" : "[%Y-%m-%d %H:%M:%S.%e] [%l] %v");
  spdlog::set_default_logger(logger);
  spdlog::set_level(spdlog::level::from_str(level));
}

detour::config load(const std::string& path) {
  return path.empty() ? detour::default_config() : detour::load_config_file(path);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{description, "detourd"};
  app.footer(footer);
  app.require_subcommand(0, 1);

  std::string config_path;
  std::optional<std::string> mode_override;
  detour::daemon::run_options run_options;

  auto* run = app.add_subcommand("run", "Run the proxy (the default).");
  run->add_option("-c,--config", config_path, "YAML configuration file (default: the built-in configuration)")
      ->check(CLI::ExistingFile);
  run->add_option("--mode", mode_override, "Override `mode`: direct, echo or reject")
      ->check(CLI::IsMember({"direct", "echo", "reject"}));
  run->add_option("--port", run_options.port_override, "Override `port`: the port redirected connections arrive at")
      ->check(CLI::Range(1, 65535));
  run->add_option("--workers", run_options.workers_override,
                  "Override `workers`: worker threads (default: one per CPU)")
      ->check(CLI::Range(1, 1024));
  run->add_option("--user", run_options.user_override,
                  "Override `user:`: the user (name or uid) to run as once the rules are installed, in its primary "
                  "group");
  run->add_option("--pidfile", run_options.pidfile, "Write the process id to this file while running");

  auto* check = app.add_subcommand("check", "Validate a configuration file and exit 0 (valid) or 1.");
  check->add_option("-c,--config", config_path, "YAML configuration file")->required();

  auto* rules = app.add_subcommand("rules", "Show, install or remove the nftables capture rules.");
  rules->require_subcommand(1);
  auto* rules_show = rules->add_subcommand("show", "Print the rules `run` would install (nft syntax); change nothing.");
  bool show_counters = false;
  rules_show->add_flag("--counters", show_counters,
                       "Print the installed table of this network namespace with each rule's counters instead");
  auto* rules_install = rules->add_subcommand(
      "install", "Install the rules as an un-owned table that stays after exit (for init containers).");
  auto* rules_remove = rules->add_subcommand(
      "remove", "Delete the table installed by `rules install`, and a guard table left by on_failure: closed.");
  for (auto* sub : {rules_show, rules_install, rules_remove}) {
    sub->add_option("-c,--config", config_path, "YAML configuration file (default: the built-in configuration)")
        ->check(CLI::ExistingFile);
  }

  std::optional<std::string> admin_override;
  std::optional<std::string> route_filter;
  bool json = false;
  auto* status = app.add_subcommand("status", "Ask the running detourd for a summary (its admin endpoint).");
  auto* connections = app.add_subcommand("connections", "List the running detourd's live connections.");
  connections->add_option("--route", route_filter, "Only the connections of this route (its name)");
  for (auto* sub : {status, connections}) {
    sub->add_option("-c,--config", config_path, "YAML configuration file naming admin.listen (default: built-in)")
        ->check(CLI::ExistingFile);
    sub->add_option("--admin", admin_override, "The admin endpoint's ADDRESS:PORT, instead of admin.listen");
    sub->add_flag("--json", json, "Print the endpoint's JSON as it comes");
  }

  auto* doctor = app.add_subcommand("doctor", "Check this host for what detourd needs; exit 1 if a check fails.");
  doctor->add_option("-c,--config", config_path, "YAML configuration file (default: the built-in configuration)")
      ->check(CLI::ExistingFile);
  std::string reload_pidfile;
  auto* reload = app.add_subcommand("reload", "Make the running detourd reread its config file.");
  reload->add_option("-c,--config", config_path, "YAML configuration file naming admin.listen (default: built-in)")
      ->check(CLI::ExistingFile);
  reload->add_option("--admin", admin_override, "The admin endpoint's ADDRESS:PORT, instead of admin.listen");
  reload->add_option("--pidfile", reload_pidfile, "Send SIGHUP to the pid in this file instead of asking the endpoint")
      ->excludes("--admin");

  auto* version = app.add_subcommand("version", "Print the version and exit.");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help and --version come through here with status 0; anything else is a usage error.
    return app.exit(e) == 0 ? 0 : 2;
  }

  try {
    if (version->parsed()) {
      std::printf("detourd %s\n", DETOUR_VERSION);
      return 0;
    }
    if (check->parsed()) {
      detour::load_config_file(config_path);
      std::printf("%s: ok\n", config_path.c_str());
      return 0;
    }
    if (rules->parsed()) {
      auto cfg = load(config_path);
      if (rules_show->parsed() && show_counters) return detour::rules::rules_show_counters(cfg, std::cout, std::cerr);
      if (rules_show->parsed()) return detour::rules::rules_show(cfg, std::cout);
      if (rules_install->parsed()) return detour::rules::rules_install(cfg, std::cerr);
      return detour::rules::rules_remove(cfg, std::cerr);
    }
    if (doctor->parsed()) return detour::doctor::doctor_command(load(config_path), std::cout);
    if (status->parsed() || connections->parsed()) {
      auto target = detour::admin::find_admin(load(config_path), config_path, admin_override);
      if (status->parsed()) return detour::admin::status_command(target, json, std::cout, std::cerr);
      return detour::admin::connections_command(target, route_filter, json, std::cout, std::cerr);
    }
    if (reload->parsed()) {
      if (!reload_pidfile.empty()) return detour::daemon::reload_by_signal(reload_pidfile, std::cout, std::cerr);
      auto target = detour::admin::find_admin(load(config_path), config_path, admin_override);
      return detour::admin::reload_command(target, std::cout, std::cerr);
    }
    run_options.config_path = config_path;
    if (mode_override) run_options.mode_override = *detour::parse_mode(*mode_override);
    auto cfg = detour::daemon::load_run_config(run_options);
    setup_logging(cfg.log_level);
    return detour::daemon::run(run_options, cfg);
  } catch (const detour::error& e) {
    std::fprintf(stderr, "detourd: %s\n", e.what());
    return 1;
  }
}
