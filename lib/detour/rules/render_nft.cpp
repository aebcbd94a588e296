#include "detour/rules/render_nft.hpp"

#include <fmt/format.h>

#include <linux/netfilter.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <netinet/in.h>

#include <array>

namespace detour::rules {
namespace {

std::string_view field_name(field f) {
  switch (f) {
    case field::nfproto:
      return "meta nfproto";
    case field::l4proto:
      return "meta l4proto";
    case field::tcp_dport:
      return "tcp dport";
    case field::ip_saddr:
      return "ip saddr";
    case field::ip_daddr:
      return "ip daddr";
    case field::ip6_saddr:
      return "ip6 saddr";
    case field::ip6_daddr:
      return "ip6 daddr";
    case field::mark:
      return "meta mark";
    case field::skuid:
      return "meta skuid";
    case field::skgid:
      return "meta skgid";
    case field::iifname:
      return "iifname";
    case field::oifname:
      return "oifname";
    case field::ct_state:
      return "ct state";
    case field::ct_status:
      return "ct status";
  }
  return "?";
}

std::string value_text(const match& m) {
  switch (m.what) {
    case field::nfproto:
      return m.value == NFPROTO_IPV4 ? "ipv4" : m.value == NFPROTO_IPV6 ? "ipv6" : fmt::format("{}", m.value);
    case field::l4proto:
      return m.value == IPPROTO_TCP ? "tcp" : fmt::format("{}", m.value);
    // nft prints marks as 8 hex digits.
    case field::mark:
      return fmt::format("0x{:08x}", m.value);
    // The only bits the plans use; nft names each.
    case field::ct_state:
      return m.value == NF_CT_STATE_BIT(IP_CT_NEW) ? "new" : fmt::format("0x{:08x}", m.value);
    case field::ct_status:
      return m.value == IPS_DST_NAT ? "dnat" : fmt::format("0x{:08x}", m.value);
    default:
      return fmt::format("{}", m.value);
  }
}

std::string element_list(const set_decl& s) {
  std::vector<std::string> items;
  for (const auto& c : s.prefixes) {
    bool host = c.prefix_length == (c.is_v4() ? 32U : 128U);
    items.push_back(host ? c.address.to_string() : c.to_string());
  }
  for (const auto& p : s.ports) items.push_back(p.to_string());
  for (auto id : s.ids) items.push_back(fmt::format("{}", id));
  for (const auto& name : s.interfaces) items.push_back(fmt::format("\"{}\"", name));
  return fmt::format("{{ {} }}", fmt::join(items, ", "));
}

}  // namespace

std::string_view to_string(set_type t) {
  switch (t) {
    case set_type::ipv4_addr:
      return "ipv4_addr";
    case set_type::ipv6_addr:
      return "ipv6_addr";
    case set_type::inet_service:
      return "inet_service";
    case set_type::uid:
      return "uid";
    case set_type::gid:
      return "gid";
    case set_type::ifname:
      return "ifname";
  }
  return "?";
}

// In the order of `hook`.
std::string_view to_string(hook h) {
  constexpr std::array<std::string_view, 4> names{"output", "prerouting", "input", "forward"};
  return names.at(static_cast<std::size_t>(h));
}

std::string_view to_string(chain_type t) { return t == chain_type::nat ? "nat" : "filter"; }

std::string verdict_text(const rule& r) {
  if (r.action == verdict::redirect) return fmt::format("redirect to :{}", r.redirect_port);
  if (r.action == verdict::reject) return "reject with tcp reset";
  return r.action == verdict::accept ? "accept" : "return";
}

std::string render_rule(const rule& r, std::string_view counter) {
  std::string out;
  for (const auto& m : r.matches) {
    out += field_name(m.what);
    out += m.negated ? " != " : " ";
    out += m.set.empty() ? value_text(m) : "@" + m.set;
    out += ' ';
  }
  out += counter;
  out += ' ';
  out += verdict_text(r);
  // Rule names are plain words (rule_plan), so they need no escaping inside the quotes.
  if (!r.name.empty()) out += fmt::format(" comment \"{}\"", r.name);
  return out;
}

std::string render_nft(const rule_plan& plan) {
  return render_nft(plan, [](const chain&, const rule&) { return std::string("counter"); });
}

std::string render_nft(const rule_plan& plan, const counter_statement& counter) {
  std::vector<std::string> blocks;
  for (const auto& s : plan.sets) {
    std::string b = fmt::format("\tset {} {{\n\t\ttype {}\n", s.name, to_string(s.type));
    if (s.is_interval()) b += "\t\tflags interval\n";
    if (s.element_count() != 0) b += fmt::format("\t\telements = {}\n", element_list(s));
    b += "\t}\n";
    blocks.push_back(std::move(b));
  }
  for (const auto& c : plan.chains) {
    std::string b = fmt::format("\tchain {} {{\n\t\ttype {} hook {} priority {}; policy accept;\n", c.name,
                                to_string(c.type), to_string(c.where), c.priority);
    for (const auto& r : c.rules) b += fmt::format("\t\t{}\n", render_rule(r, counter(c, r)));
    b += "\t}\n";
    blocks.push_back(std::move(b));
  }
  return fmt::format("table inet {} {{\n{}}}\n", plan.table, fmt::join(blocks, "\n"));
}

}  // namespace detour::rules
