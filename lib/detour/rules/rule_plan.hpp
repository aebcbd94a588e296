#pragma once
#include "detour/config/config.hpp"
#include "detour/net/cidr.hpp"
#include "detour/net/port_range.hpp"

#include <cstdint>
#include <string>
#include <vector>

// What detourd puts into the kernel, as plain data: one inet table with named sets and up to two
// nat base chains (and, with `intercept.on_failure: closed`, a second table of filter chains: the
// guard). Building it touches nothing, so `detourd rules show`, the golden tests and the
// netlink encoder all work from the same value.
//
// Every chain is a list of exclusions that end the chain early (`... return`: the connection is
// left alone) followed by one `meta l4proto tcp redirect to :PORT`. One option gives one rule, so
// each option can be seen, and tested, on its own line of `nft list ruleset`, and counted: every
// rule carries a counter and its name as comment.
namespace detour::rules {

// nft's datatypes for the set keys we use; the numbers are nft's own ids, stored in the kernel only
// so that `nft list` can print the elements.
enum class set_type { ipv4_addr, ipv6_addr, inet_service, uid, gid, ifname };

struct set_decl {
  std::string name;
  set_type type = set_type::ipv4_addr;
  // Exactly one of these is filled, according to `type`. Prefixes and port ranges are merged,
  // because the kernel refuses overlapping interval elements (EEXIST).
  std::vector<net::cidr> prefixes;
  std::vector<net::port_range> ports;
  std::vector<std::uint32_t> ids;
  std::vector<std::string> interfaces;

  bool is_interval() const;
  std::size_t element_count() const;
  friend bool operator==(const set_decl&, const set_decl&) = default;
};

// A packet property a rule can compare.
enum class field {
  nfproto,
  l4proto,
  tcp_dport,
  ip_saddr,
  ip_daddr,
  ip6_saddr,
  ip6_daddr,
  mark,
  skuid,
  skgid,
  iifname,
  oifname,
  // Conntrack's state and status bits: these match when any bit of `value` is set, as nft's
  // `ct state new` and `ct status dnat` do.
  ct_state,
  ct_status
};

struct match {
  field what = field::l4proto;
  bool negated = false;
  // Compared against `set` (a set_decl of the plan) when that is non-empty, else against `value`:
  // NFPROTO_IPV4/IPV6, IPPROTO_TCP, a port, a mark or a uid/gid.
  std::string set;
  std::uint32_t value = 0;
  friend bool operator==(const match&, const match&) = default;
};

// `reject` is `reject with tcp reset`: the client's connect() fails at once with ECONNREFUSED
// rather than waiting for a timeout, as it would after a drop.
enum class verdict { return_, redirect, accept, reject };

struct rule {
  // The option the rule comes from ("exclude_ports", "destinations4", "redirect"), unique in its
  // chain. It goes into the kernel as the rule's comment, so counters read back can be matched to
  // the rule; a fixed word per option, it is fit for a metrics label.
  std::string name;
  std::vector<match> matches;
  verdict action = verdict::return_;
  std::uint16_t redirect_port = 0;  // with verdict::redirect
  friend bool operator==(const rule&, const rule&) = default;
};

enum class hook { output, prerouting, input, forward };

// nat chains see only a connection's first packet and may redirect it; filter chains see every
// packet and may accept or reject it.
enum class chain_type { nat, filter };

struct chain {
  std::string name;
  hook where = hook::output;
  int priority = 0;
  std::vector<rule> rules;
  chain_type type = chain_type::nat;
  friend bool operator==(const chain&, const chain&) = default;
};

struct rule_plan {
  std::string table;
  std::vector<set_decl> sets;
  std::vector<chain> chains;

  const set_decl* find_set(const std::string& name) const;
  friend bool operator==(const rule_plan&, const rule_plan&) = default;
};

// Always excluded from outbound capture: TCP never goes there, and a rule that redirected it would
// only confuse. Documented in config/detour.yaml.
std::vector<net::cidr> default_outbound_exclusions();

// Every upstream server address as a host prefix (/32, /128), merged. The capture rules exclude
// these destinations, so a connection to a proxy is never redirected back into detourd, even with
// the mark disabled or a route that would send it upstream: no loop, whatever the user configured.
std::vector<net::cidr> upstream_server_cidrs(const config& cfg);

// The plan for `cfg.intercept`, redirecting to `cfg.port`. `self_uid` is the uid excluded when
// `exclude_self_uid` is set. A disabled direction has no chain; the table is always there.
rule_plan make_plan(const config& cfg, std::uint32_t self_uid);
// The same with this process's effective uid.
rule_plan make_plan(const config& cfg);

// What a draining detourd keeps installed instead of `installed`: the same table and chains with
// one rule each that no connection matches (`tcp dport 0 redirect`), so nothing new is captured.
// Deleting the table instead would be worse: when a network namespace's last nat rule goes, the
// kernel stops tracking connections for that family (the conntrack hooks go with their last
// user), and every redirected connection still running loses its translation and is reset.
rule_plan draining_plan(const rule_plan& installed);

// The guard of `intercept.on_failure: closed`, table `<intercept.table>_guard`: for each direction
// the capture covers, filter chains that accept what was redirected (`ct status dnat`, detourd's
// own and any other tool's), leave alone what the capture excludes, with the very rules of the
// capture's chain, and refuse every other new TCP connection with a reset. While detourd runs
// that refuses nothing the capture would have taken; once it is dead, the same connections are
// reset instead of going direct. Outbound guards the output hook; inbound the input and forward
// hooks, which the packets prerouting would have redirected reach instead when not redirected.
rule_plan make_guard_plan(const config& cfg, std::uint32_t self_uid);
rule_plan make_guard_plan(const config& cfg);
std::string guard_table_name(const std::string& capture_table);

}  // namespace detour::rules
