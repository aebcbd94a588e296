#include "detour/doctor/checks.hpp"

#include <fmt/format.h>

#include <sys/resource.h>

#include <string>
#include <string_view>
#include <vector>

namespace detour::doctor {
namespace {

finding ok(std::string check, std::string text) { return {level::ok, std::move(check), std::move(text), {}}; }

finding problem(level l, std::string check, std::string text, std::string fix) {
  return {l, std::move(check), std::move(text), std::move(fix)};
}

std::string limit_text(std::uint64_t value) {
  return value == RLIM_INFINITY ? std::string("unlimited") : std::to_string(value);
}

std::string_view hook_name(rules::hook h) { return h == rules::hook::output ? "output" : "prerouting"; }

}  // namespace

finding check_nat(const namespace_probe_result& r) {
  const std::string name = "nftables nat";
  if (r.sandbox.outcome != probe_outcome::ok) {
    return problem(level::warn, name, fmt::format("not tested: {}", r.sandbox.detail),
                   "run `detourd doctor` as root, which can create a network namespace to test in");
  }
  if (r.nat.outcome != probe_outcome::ok) {
    return problem(level::fail, name, fmt::format("a nat chain cannot be created: {}", r.nat.detail),
                   "load nf_tables, nft_chain_nat and nft_redir (modprobe), or use a kernel with CONFIG_NFT_NAT "
                   "and CONFIG_NFT_REDIR");
  }
  return ok(name, "a nat output chain with a redirect rule works (tested in a throw-away network namespace)");
}

finding check_original_destination(const namespace_probe_result& r, bool ipv6) {
  auto name = fmt::format("original destination {}", ipv6 ? "ipv6" : "ipv4");
  const auto& step = ipv6 ? r.ipv6 : r.ipv4;
  const char* family = ipv6 ? "IPv6" : "IPv4";
  if (r.sandbox.outcome != probe_outcome::ok || r.nat.outcome != probe_outcome::ok) {
    return problem(level::warn, name, "not tested: the nftables nat test did not get that far",
                   "see the nftables nat line");
  }
  switch (step.outcome) {
    case probe_outcome::ok:
      return ok(name, fmt::format("SO_ORIGINAL_DST gives back {} of a redirected connection", step.detail));
    case probe_outcome::unavailable:
      return problem(level::warn, name, fmt::format("{} is not available on this host: {}", family, step.detail),
                     fmt::format("enable {} if {} connections are to be captured", family, family));
    case probe_outcome::failed:
      break;
  }
  return problem(level::fail, name, step.detail,
                 fmt::format("load nf_conntrack and nf_nat (modprobe), which {} NAT needs", family));
}

finding check_conntrack_present(const std::optional<std::uint64_t>& conntrack_max) {
  if (!conntrack_max) {
    return problem(level::fail, "conntrack", "nf_conntrack is not loaded (no /proc/sys/net/netfilter/nf_conntrack_max)",
                   "modprobe nf_conntrack");
  }
  return ok("conntrack", "nf_conntrack is loaded");
}

finding check_capabilities(std::uint64_t effective, const config& cfg, std::uint16_t unprivileged_port_start) {
  std::vector<std::string> found;
  std::vector<std::string> missing;
  const bool needs_admin = cfg.intercept.enabled || cfg.mark != 0;
  if (!needs_admin) {
    found.emplace_back("CAP_NET_ADMIN not needed (intercept.enabled false, mark 0)");
  } else if (has_capability(effective, cap_net_admin)) {
    found.emplace_back("CAP_NET_ADMIN effective");
  } else {
    missing.emplace_back("CAP_NET_ADMIN is not effective (the nftables rules and SO_MARK need it)");
  }
  if (cfg.port >= unprivileged_port_start) {
    found.push_back(fmt::format("port {} needs no CAP_NET_BIND_SERVICE", cfg.port));
  } else if (has_capability(effective, cap_net_bind_service)) {
    found.push_back(fmt::format("CAP_NET_BIND_SERVICE effective (port {})", cfg.port));
  } else {
    missing.push_back(fmt::format(
        "port {} is below net.ipv4.ip_unprivileged_port_start ({}) and CAP_NET_BIND_SERVICE is not effective", cfg.port,
        unprivileged_port_start));
  }
  if (missing.empty()) return ok("capabilities", fmt::format("{}", fmt::join(found, ", ")));
  return problem(level::fail, "capabilities", fmt::format("{}", fmt::join(missing, "; ")),
                 "run as root, or grant the capability (AmbientCapabilities=CAP_NET_ADMIN CAP_NET_BIND_SERVICE in "
                 "the systemd unit, or setcap on detourd)");
}

// max_connections (a later issue) will take the place of wanted_connections here: the hard limit
// must then cover max_connections * descriptors_per_connection plus the listeners.
finding check_descriptors(const descriptor_limits& limits) {
  auto text = fmt::format("RLIMIT_NOFILE soft {} hard {}; detourd raises the soft limit to the hard one, which allows ",
                          limit_text(limits.soft), limit_text(limits.hard));
  if (limits.hard == RLIM_INFINITY) return ok("descriptors", text + "any number of connections");
  auto connections = limits.hard / descriptors_per_connection;
  text += fmt::format("{} connections ({} descriptors each)", connections, descriptors_per_connection);
  if (connections >= wanted_connections) return ok("descriptors", text);
  return problem(level::warn, "descriptors", text,
                 fmt::format("raise the hard limit to at least {} (LimitNOFILE=1048576 in the systemd unit, or "
                             "ulimit -Hn)",
                             wanted_connections * descriptors_per_connection));
}

finding check_pipe_pages(const pipe_page_budget& budget) {
  const std::string name = "pipe buffers";
  auto pages_per_relay = 2 * ((budget.pipe_size + budget.page_size - 1) / budget.page_size);
  auto relay_text =
      fmt::format("a relay moving bytes holds two {} KiB pipes ({} pages)", budget.pipe_size / 1024, pages_per_relay);
  if (budget.soft_limit_pages == 0)
    return ok(name, fmt::format("fs.pipe-user-pages-soft is 0 (no limit); {}", relay_text));
  if (budget.exempt) {
    return ok(name, fmt::format("fs.pipe-user-pages-soft {} does not apply (CAP_SYS_RESOURCE or CAP_SYS_ADMIN); {}",
                                budget.soft_limit_pages, relay_text));
  }
  auto relays = budget.soft_limit_pages / pages_per_relay;
  auto text = fmt::format(
      "fs.pipe-user-pages-soft {} allows {} relays moving bytes at once for this user; {}; beyond "
      "it new pipes get 2 pages and transfers slow down",
      budget.soft_limit_pages, relays, relay_text);
  if (relays >= wanted_relays) return ok(name, text);
  return problem(
      level::warn, name, text,
      fmt::format("sysctl -w fs.pipe-user-pages-soft={} (or 0 for no limit)", wanted_relays * pages_per_relay));
}

finding check_conntrack_load(std::uint64_t count, std::uint64_t max) {
  const std::string name = "conntrack table";
  if (max == 0) return ok(name, fmt::format("{} entries, nf_conntrack_max 0 (no limit)", count));
  auto percent = 100.0 * static_cast<double>(count) / static_cast<double>(max);
  auto text = fmt::format("{} of nf_conntrack_max {} entries in use ({:.0f} %)", count, max, percent);
  if (static_cast<double>(count) <= conntrack_warn_ratio * static_cast<double>(max)) return ok(name, text);
  return problem(level::warn, name, text + "; once full, new connections are dropped",
                 fmt::format("sysctl -w net.netfilter.nf_conntrack_max={}", max * 2));
}

finding check_local_ports(std::uint32_t low, std::uint32_t high) {
  auto ports = high >= low ? high - low + 1 : 0;
  auto text = fmt::format("{} ports (net.ipv4.ip_local_port_range {}-{})", ports, low, high);
  if (ports >= wanted_local_ports) return ok("local ports", text);
  return problem(level::warn, "local ports",
                 text + fmt::format(": at most {} connections open at once to one destination", ports),
                 "sysctl -w net.ipv4.ip_local_port_range=\"1024 65535\"");
}

finding check_other_nat_chains(const nat_chain_listing& listing, const config& cfg) {
  const std::string name = "other nat chains";
  if (!listing.error.empty()) {
    return problem(level::warn, name, fmt::format("the ruleset cannot be read: {}", listing.error),
                   "run `detourd doctor` with CAP_NET_ADMIN (as root)");
  }
  const int ours = cfg.intercept.priority;
  std::vector<std::string> earlier;
  for (const auto& c : listing.chains) {
    if (c.family == "inet" && c.table == cfg.intercept.table) continue;
    if (c.priority >= ours) continue;
    earlier.push_back(fmt::format("table {} {} chain {} ({} priority {})", c.family, c.table, c.name,
                                  hook_name(c.where), c.priority));
  }
  if (earlier.empty()) {
    return ok(name, fmt::format("none on the output or prerouting hook before intercept.priority {}", ours));
  }
  return problem(level::warn, name,
                 fmt::format("{} see connections before detourd's chains (intercept.priority {}), and a redirect or "
                             "dnat there wins",
                             fmt::join(earlier, ", "), ours),
                 "make sure they leave the traffic detourd captures alone, or set intercept.priority below theirs");
}

}  // namespace detour::doctor
