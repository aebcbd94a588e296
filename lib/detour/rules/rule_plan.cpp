#include "detour/rules/rule_plan.hpp"

#include "detour/net/sockaddr.hpp"
#include "detour/rules/capture_self_test.hpp"

#include <linux/netfilter.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <netinet/in.h>
#include <unistd.h>

#include <algorithm>
#include <stdexcept>

namespace detour::rules {
namespace {

match is(field f, std::uint32_t value) { return match{f, false, {}, value}; }
match is_not(field f, std::uint32_t value) { return match{f, true, {}, value}; }
match in(field f, std::string set) { return match{f, false, std::move(set), 0}; }
match not_in(field f, std::string set) { return match{f, true, std::move(set), 0}; }

rule return_if(std::string name, std::vector<match> matches) {
  return rule{std::move(name), std::move(matches), verdict::return_, 0};
}

// Builds one chain and the sets its rules refer to; set names carry the chain's prefix ("out_",
// "in_") so both chains can hold the same option side by side.
class chain_builder {
 public:
  chain_builder(rule_plan& plan, std::string prefix, chain c)
      : plan_(plan), prefix_(std::move(prefix)), chain_(std::move(c)) {}

  void add(rule r) { chain_.rules.push_back(std::move(r)); }

  // A connection to the listen port itself is not redirected again; detourd refuses it as direct.
  // Both listeners' ports, in both chains: a connection made to either one directly is not
  // redirected into the other, so it reaches detourd as not redirected and is refused there.
  void exclude_non_tcp_and_listen_port(const config& cfg) {
    add(return_if("exclude_non_tcp", {is_not(field::l4proto, IPPROTO_TCP)}));
    add(return_if("exclude_listen_port", {is(field::tcp_dport, cfg.port)}));
    if (cfg.inbound_port() != cfg.port) {
      add(return_if("exclude_inbound_port", {is(field::tcp_dport, cfg.inbound_port())}));
    }
  }

  // The admin endpoint's own address: Prometheus, `detourd status` and curl reach it without being
  // redirected into the proxy port. An unspecified address (0.0.0.0, ::) stands for every local one,
  // so then the port alone decides.
  void exclude_admin(const std::optional<boost::asio::ip::tcp::endpoint>& admin) {
    if (!admin) return;
    const auto address = net::unmap(admin->address());
    std::vector<match> matches;
    if (!address.is_unspecified()) {
      const bool v4 = address.is_v4();
      auto set = prefix_set("exclude_admin", v4, {{address, net::address_bits(v4)}});
      matches.push_back(in(v4 ? field::ip_daddr : field::ip6_daddr, std::move(set)));
    }
    matches.push_back(is(field::tcp_dport, admin->port()));
    add(return_if("exclude_admin", std::move(matches)));
  }

  // Ports to capture (empty: all) and ports never captured.
  void ports(const std::vector<net::port_range>& include, const std::vector<net::port_range>& exclude) {
    if (!include.empty()) add(return_if("ports", {not_in(field::tcp_dport, port_set("ports", include))}));
    if (!exclude.empty()) add(return_if("exclude_ports", {in(field::tcp_dport, port_set("exclude_ports", exclude))}));
  }

  // An include list covers both families at once: a family with no prefix in it is not captured at
  // all, which is what "capture only these destinations" means for the other family. Each family's
  // rule is named like its set ("destinations4"), whether it has one or not.
  void include_prefixes(const std::string& key, const std::vector<net::cidr>& include, field v4, field v6) {
    if (include.empty()) return;
    auto merged = net::merge_cidrs(include);
    for (bool is_v4 : {true, false}) {
      std::vector<net::cidr> family;
      std::copy_if(merged.begin(), merged.end(), std::back_inserter(family),
                   [&](const auto& c) { return c.is_v4() == is_v4; });
      auto rule_name = key + (is_v4 ? "4" : "6");
      if (family.empty()) {
        add(return_if(rule_name, {is(field::nfproto, is_v4 ? NFPROTO_IPV4 : NFPROTO_IPV6)}));
      } else {
        auto name = prefix_set(rule_name, is_v4, std::move(family));
        add(return_if(rule_name, {not_in(is_v4 ? v4 : v6, name)}));
      }
    }
  }

  void exclude_prefixes(const std::string& key, const std::vector<net::cidr>& exclude, field v4, field v6) {
    auto merged = net::merge_cidrs(exclude);
    for (bool is_v4 : {true, false}) {
      std::vector<net::cidr> family;
      std::copy_if(merged.begin(), merged.end(), std::back_inserter(family),
                   [&](const auto& c) { return c.is_v4() == is_v4; });
      if (family.empty()) continue;
      auto rule_name = key + (is_v4 ? "4" : "6");
      add(return_if(rule_name, {in(is_v4 ? v4 : v6, prefix_set(rule_name, is_v4, std::move(family)))}));
    }
  }

  void ids(const std::string& key, set_type type, field f, std::vector<std::uint32_t> values, bool include) {
    if (values.empty()) return;
    std::sort(values.begin(), values.end());
    values.erase(std::unique(values.begin(), values.end()), values.end());
    set_decl s{prefix_ + key, type, {}, {}, std::move(values), {}};
    auto name = declare(std::move(s));
    add(return_if(key, {include ? not_in(f, name) : in(f, name)}));
  }

  void interfaces(const std::string& key, field f, std::vector<std::string> names, bool include) {
    if (names.empty()) return;
    std::sort(names.begin(), names.end());
    names.erase(std::unique(names.begin(), names.end()), names.end());
    set_decl s{prefix_ + key, set_type::ifname, {}, {}, {}, std::move(names)};
    auto name = declare(std::move(s));
    add(return_if(key, {include ? not_in(f, name) : in(f, name)}));
  }

  // First in the output chain, ahead of every exclusion: the self-test must take the same path
  // whatever the user excludes, and it proves the nat hook and SO_ORIGINAL_DST, not the filters.
  void self_test(std::uint16_t port) {
    add(rule{
        "self_test", {is(field::mark, self_test_mark), is(field::tcp_dport, self_test_port)}, verdict::redirect, port});
  }

  // `last` decides what none of the exclusions took: the capture's redirect, the guard's reject.
  void finish(rule last) {
    add(std::move(last));
    finish_without_redirect();
  }

  void finish_without_redirect() { plan_.chains.push_back(std::move(chain_)); }

 private:
  std::string port_set(const std::string& key, const std::vector<net::port_range>& ports) {
    return declare(set_decl{prefix_ + key, set_type::inet_service, {}, net::merge_port_ranges(ports), {}, {}});
  }

  std::string prefix_set(const std::string& key, bool v4, std::vector<net::cidr> prefixes) {
    return declare(
        set_decl{prefix_ + key, v4 ? set_type::ipv4_addr : set_type::ipv6_addr, std::move(prefixes), {}, {}, {}});
  }

  // The guard's input and forward chains hold the same inbound exclusions: they share one set.
  std::string declare(set_decl s) {
    auto name = s.name;
    if (const auto* existing = plan_.find_set(name)) {
      if (*existing != s) throw std::logic_error("two different sets named " + name + " in one plan");
      return name;
    }
    plan_.sets.push_back(std::move(s));
    return name;
  }

  rule_plan& plan_;
  std::string prefix_;
  chain chain_;
};

}  // namespace

bool set_decl::is_interval() const {
  return type == set_type::ipv4_addr || type == set_type::ipv6_addr || type == set_type::inet_service;
}

std::size_t set_decl::element_count() const { return prefixes.size() + ports.size() + ids.size() + interfaces.size(); }

const set_decl* rule_plan::find_set(const std::string& name) const {
  auto it = std::find_if(sets.begin(), sets.end(), [&](const set_decl& s) { return s.name == name; });
  return it == sets.end() ? nullptr : &*it;
}

std::vector<net::cidr> default_outbound_exclusions() {
  return {*net::parse_cidr("224.0.0.0/4"), *net::parse_cidr("255.255.255.255/32"), *net::parse_cidr("ff00::/8")};
}

std::vector<net::cidr> upstream_server_cidrs(const config& cfg) {
  std::vector<net::cidr> out;
  for (const auto& u : cfg.upstreams) {
    for (const auto& server : u.servers) {
      auto address = net::unmap(server.address());
      out.push_back({address, net::address_bits(address.is_v4())});
    }
  }
  return net::merge_cidrs(out);
}

namespace {

// The capture's output chain up to its redirect, and the guard's between its first and last rule:
// one function, so that the guard never lets through or refuses anything the capture does not.
void outbound_exclusions(chain_builder& b, const config& cfg, std::uint32_t self_uid) {
  const auto& ic = cfg.intercept;
  const auto& out = ic.outbound;
  // detourd's own upstream sockets carry the mark; without this they would loop back into it.
  if (cfg.mark != 0) b.add(return_if("exclude_self_mark", {is(field::mark, cfg.mark)}));
  // skuid only exists for locally created sockets, which is why it appears in output only.
  if (ic.exclude_self_uid) b.add(return_if("exclude_self_uid", {is(field::skuid, self_uid)}));
  // The user detourd switches to after installing these rules (`user:`), excluded the way istio
  // excludes its proxy's uid 1337: detourd's own upstream connections are never captured, even
  // with `mark: 0`. self_uid cannot serve, since it is still the starting user's at install time.
  if (cfg.run_as) b.add(return_if("exclude_run_user", {is(field::skuid, cfg.run_as->uid)}));
  b.exclude_non_tcp_and_listen_port(cfg);
  b.exclude_admin(cfg.admin.listen);
  b.ports(out.ports, out.exclude_ports);
  b.ids("uids", set_type::uid, field::skuid, out.uids, true);
  b.ids("exclude_uids", set_type::uid, field::skuid, out.exclude_uids, false);
  b.ids("gids", set_type::gid, field::skgid, out.gids, true);
  b.ids("exclude_gids", set_type::gid, field::skgid, out.exclude_gids, false);
  b.interfaces("exclude_interfaces", field::oifname, out.exclude_interfaces, false);
  b.include_prefixes("destinations", out.destinations, field::ip_daddr, field::ip6_daddr);
  auto excluded = out.exclude_destinations;
  for (auto& c : default_outbound_exclusions()) excluded.push_back(c);
  // The upstream proxies themselves: detourd's handshakes with them must not loop back into it
  // even when the mark is off, and a program that talks to a proxy on its own keeps doing so.
  for (auto& c : upstream_server_cidrs(cfg)) excluded.push_back(c);
  b.exclude_prefixes("exclude_destinations", excluded, field::ip_daddr, field::ip6_daddr);
}

// The same for the prerouting chain and the guard's input and forward chains.
void inbound_exclusions(chain_builder& b, const config& cfg) {
  const auto& in = cfg.intercept.inbound;
  b.exclude_non_tcp_and_listen_port(cfg);
  b.exclude_admin(cfg.admin.listen);
  b.interfaces("interfaces", field::iifname, in.interfaces, true);
  b.include_prefixes("sources", in.sources, field::ip_saddr, field::ip6_saddr);
  b.exclude_prefixes("exclude_sources", in.exclude_sources, field::ip_saddr, field::ip6_saddr);
  b.ports(in.ports, in.exclude_ports);
  b.include_prefixes("destinations", in.destinations, field::ip_daddr, field::ip6_daddr);
  auto excluded = in.exclude_destinations;
  for (auto& c : upstream_server_cidrs(cfg)) excluded.push_back(c);
  b.exclude_prefixes("exclude_destinations", excluded, field::ip_daddr, field::ip6_daddr);
}

rule redirect_to(std::uint16_t port) {
  return rule{"redirect", {is(field::l4proto, IPPROTO_TCP)}, verdict::redirect, port};
}

// Only a connection's first packet (the SYN) is refused, never the packets of a connection that
// is already established: one that went direct while the guard was lifted (a drain, a restart, the
// first start) would otherwise be reset mid-stream when the guard comes back, though the capture
// never takes an established connection either. A redirected connection passes the first rule.
rule reject_new() {
  return rule{
      "reject", {is(field::l4proto, IPPROTO_TCP), is(field::ct_state, NF_CT_STATE_BIT(IP_CT_NEW))}, verdict::reject, 0};
}

// Redirected by a nat chain, ours or another tool's (docker's DNAT of a published port): nothing to
// guard against. The filter hooks at priority 0 run after the nat ones, so the status is set.
rule accept_redirected() { return rule{"redirected", {is(field::ct_status, IPS_DST_NAT)}, verdict::accept, 0}; }

}  // namespace

rule_plan make_plan(const config& cfg, std::uint32_t self_uid) {
  const auto& ic = cfg.intercept;
  rule_plan plan;
  plan.table = ic.table;
  if (ic.outbound.enabled) {
    chain_builder b(plan, "out_", chain{"output", hook::output, ic.priority, {}});
    if (plans_self_test(cfg)) b.self_test(cfg.port);
    outbound_exclusions(b, cfg, self_uid);
    b.finish(redirect_to(cfg.port));
  } else if (plans_self_test(cfg)) {
    // Inbound capture alone: the self-test cannot come in through prerouting, but an output chain
    // with only its rule still proves NAT and SO_ORIGINAL_DST on this kernel, and captures nothing
    // else.
    chain_builder b(plan, "out_", chain{"output", hook::output, ic.priority, {}});
    b.self_test(cfg.port);
    b.finish_without_redirect();
  }
  if (ic.inbound.enabled) {
    chain_builder b(plan, "in_", chain{"prerouting", hook::prerouting, ic.priority, {}});
    inbound_exclusions(b, cfg);
    b.finish(redirect_to(cfg.inbound_port()));
  }
  return plan;
}

std::string guard_table_name(const std::string& capture_table) { return capture_table + "_guard"; }

rule_plan make_guard_plan(const config& cfg, std::uint32_t self_uid) {
  const auto& ic = cfg.intercept;
  rule_plan plan;
  plan.table = guard_table_name(ic.table);
  auto guard_chain = [&](std::string prefix, std::string name, hook where, const auto& exclusions) {
    chain_builder b(plan, std::move(prefix), chain{std::move(name), where, 0, {}, chain_type::filter});
    b.add(accept_redirected());
    exclusions(b);
    b.finish(reject_new());
  };
  if (ic.outbound.enabled) {
    guard_chain("out_", "output", hook::output, [&](chain_builder& b) { outbound_exclusions(b, cfg, self_uid); });
  }
  if (ic.inbound.enabled) {
    // Prerouting's nat chains never see a connection made on this host (its first packet got its
    // nat binding in output), but the input hook does, arriving on lo: leave it to the output
    // guard, or to nobody when outbound capture is off.
    guard_chain("in_", "input", hook::input, [&](chain_builder& b) {
      b.interfaces("exclude_loopback", field::iifname, {"lo"}, false);
      inbound_exclusions(b, cfg);
    });
    guard_chain("in_", "forward", hook::forward, [&](chain_builder& b) { inbound_exclusions(b, cfg); });
  }
  return plan;
}

rule_plan make_guard_plan(const config& cfg) { return make_guard_plan(cfg, static_cast<std::uint32_t>(::geteuid())); }

rule_plan make_plan(const config& cfg) { return make_plan(cfg, static_cast<std::uint32_t>(::geteuid())); }

rule_plan draining_plan(const rule_plan& installed) {
  rule_plan out;
  out.table = installed.table;
  for (const auto& c : installed.chains) {
    std::uint16_t port = 0;
    for (const auto& r : c.rules) {
      if (r.action == verdict::redirect) port = r.redirect_port;
    }
    out.chains.push_back(
        chain{c.name,
              c.where,
              c.priority,
              {rule{"draining", {is(field::l4proto, IPPROTO_TCP), is(field::tcp_dport, 0)}, verdict::redirect, port}}});
  }
  return out;
}

}  // namespace detour::rules
