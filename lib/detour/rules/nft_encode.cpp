#include "detour/rules/nft_encode.hpp"

#include "detour/rules/nftnl_objects.hpp"
#include "detour/rules/render_nft.hpp"

#include <fmt/format.h>

#include <arpa/inet.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_nat.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netlink.h>
#include <net/if.h>
#include <netinet/in.h>

#include <algorithm>
#include <array>
#include <cstring>

namespace detour::rules {
namespace {

using namespace nftnl;

constexpr std::uint32_t family = NFPROTO_INET;

std::uint32_t table_flags(ownership own) { return own == ownership::owner ? NFT_TABLE_F_OWNER : 0; }

void table_message(nft_batch& b, std::uint16_t type, const std::string& name, std::uint32_t flags, std::string what) {
  auto t = allocate<table_ptr>(nftnl_table_alloc);
  nftnl_table_set_str(t.get(), NFTNL_TABLE_NAME, name.c_str());
  nftnl_table_set_u32(t.get(), NFTNL_TABLE_FAMILY, family);
  if (type == NFT_MSG_NEWTABLE) nftnl_table_set_u32(t.get(), NFTNL_TABLE_FLAGS, flags);
  b.add(type, type == NFT_MSG_NEWTABLE ? NLM_F_CREATE : 0, object_kind::table, std::move(what), [&](nlmsghdr* nlh) {
    nftnl_table_nlmsg_build_payload(nlh, t.get());
    return 0;
  });
}

// In the order of `hook`.
std::uint32_t hook_number(hook h) {
  constexpr std::array<std::uint32_t, 4> numbers{NF_INET_LOCAL_OUT, NF_INET_PRE_ROUTING, NF_INET_LOCAL_IN,
                                                 NF_INET_FORWARD};
  return numbers.at(static_cast<std::size_t>(h));
}

chain_ptr chain_object(const std::string& table, const std::string& name) {
  auto ch = allocate<chain_ptr>(nftnl_chain_alloc);
  nftnl_chain_set_str(ch.get(), NFTNL_CHAIN_TABLE, table.c_str());
  nftnl_chain_set_str(ch.get(), NFTNL_CHAIN_NAME, name.c_str());
  nftnl_chain_set_u32(ch.get(), NFTNL_CHAIN_FAMILY, family);
  return ch;
}

void chain_message(nft_batch& b, std::uint16_t type, std::uint16_t flags, const chain_ptr& ch, std::string what) {
  b.add(type, flags, object_kind::chain, std::move(what), [&](nlmsghdr* nlh) {
    nftnl_chain_nlmsg_build_payload(nlh, ch.get());
    return 0;
  });
}

rule_ptr rule_object(const std::string& table, const std::string& chain_name) {
  auto r = allocate<rule_ptr>(nftnl_rule_alloc);
  nftnl_rule_set_str(r.get(), NFTNL_RULE_TABLE, table.c_str());
  nftnl_rule_set_str(r.get(), NFTNL_RULE_CHAIN, chain_name.c_str());
  nftnl_rule_set_u32(r.get(), NFTNL_RULE_FAMILY, family);
  return r;
}

struct key_format {
  std::uint32_t nft_type;  // nft's datatype id, for `nft list`
  std::uint32_t length;
  std::uint32_t byteorder;  // NFTNL_UDATA_SET_KEYBYTEORDER: 1 host, 2 big endian
};

key_format key_of(set_type t) {
  switch (t) {
    case set_type::ipv4_addr:
      return {7, 4, 2};
    case set_type::ipv6_addr:
      return {8, 16, 2};
    case set_type::inet_service:
      return {13, 2, 2};
    case set_type::uid:
      return {24, 4, 1};
    case set_type::gid:
      return {25, 4, 1};
    case set_type::ifname:
      return {41, IFNAMSIZ, 1};
  }
  return {0, 0, 0};
}

set_ptr set_object(const std::string& table, const std::string& name) {
  auto set = allocate<set_ptr>(nftnl_set_alloc);
  nftnl_set_set_str(set.get(), NFTNL_SET_TABLE, table.c_str());
  nftnl_set_set_str(set.get(), NFTNL_SET_NAME, name.c_str());
  nftnl_set_set_u32(set.get(), NFTNL_SET_FAMILY, family);
  return set;
}

void new_set(nft_batch& b, const std::string& table, const set_decl& s, std::uint32_t id) {
  auto set = set_object(table, s.name);
  auto key = key_of(s.type);
  nftnl_set_set_u32(set.get(), NFTNL_SET_ID, id);
  nftnl_set_set_u32(set.get(), NFTNL_SET_FLAGS, s.is_interval() ? NFT_SET_INTERVAL : 0);
  nftnl_set_set_u32(set.get(), NFTNL_SET_KEY_TYPE, key.nft_type);
  nftnl_set_set_u32(set.get(), NFTNL_SET_KEY_LEN, key.length);
  auto ud = allocate<udata_ptr>([] { return nftnl_udata_buf_alloc(64); });
  nftnl_udata_put_u32(ud.get(), NFTNL_UDATA_SET_KEYBYTEORDER, key.byteorder);
  nftnl_set_set_data(set.get(), NFTNL_SET_USERDATA, nftnl_udata_buf_data(ud.get()), nftnl_udata_buf_len(ud.get()));
  b.add(NFT_MSG_NEWSET, NLM_F_CREATE, object_kind::set,
        fmt::format("create set {} (type {})", s.name, to_string(s.type)), [&](nlmsghdr* nlh) {
          nftnl_set_nlmsg_build_payload(nlh, set.get());
          return 0;
        });
}

void add_element(nftnl_set* set, const void* key, std::size_t length, bool interval_end) {
  auto e = allocate<elem_ptr>(nftnl_set_elem_alloc);
  nftnl_set_elem_set(e.get(), NFTNL_SET_ELEM_KEY, key, static_cast<std::uint32_t>(length));
  if (interval_end) nftnl_set_elem_set_u32(e.get(), NFTNL_SET_ELEM_FLAGS, NFT_SET_ELEM_INTERVAL_END);
  nftnl_set_elem_add(set, e.release());
}

void add_address(nftnl_set* set, const boost::asio::ip::address& a, bool interval_end) {
  if (a.is_v4()) {
    auto bytes = a.to_v4().to_bytes();
    add_element(set, bytes.data(), bytes.size(), interval_end);
  } else {
    auto bytes = a.to_v6().to_bytes();
    add_element(set, bytes.data(), bytes.size(), interval_end);
  }
}

// An interval covers [start, end): the end element holds the first key after it, and is left out
// when the interval runs to the top of the key space (there is no key after it).
void add_prefix(nftnl_set* set, const net::cidr& c) {
  auto range = c.bounds();
  add_address(set, net::from_integer(range.first, c.is_v4()), false);
  if (range.last != net::max_address(c.is_v4())) add_address(set, net::from_integer(range.last + 1, c.is_v4()), true);
}

void add_port_range(nftnl_set* set, const net::port_range& p) {
  std::uint16_t be = htons(p.first);
  add_element(set, &be, 2, false);
  if (p.last != 65535) {
    be = htons(static_cast<std::uint16_t>(p.last + 1));
    add_element(set, &be, 2, true);
  }
}

void add_elements(nft_batch& b, const std::string& table, const set_decl& s, std::uint32_t id) {
  if (s.element_count() == 0) return;
  auto set = set_object(table, s.name);
  nftnl_set_set_u32(set.get(), NFTNL_SET_ID, id);
  for (const auto& c : s.prefixes) add_prefix(set.get(), c);
  for (const auto& p : s.ports) add_port_range(set.get(), p);
  for (auto v : s.ids) add_element(set.get(), &v, 4, false);
  for (const auto& name : s.interfaces) {
    std::array<char, IFNAMSIZ> key{};
    std::memcpy(key.data(), name.data(), std::min(name.size(), key.size() - 1));
    add_element(set.get(), key.data(), key.size(), false);
  }
  // One NEWSETELEM carries its elements in one attribute with a 16-bit length: past 64 KiB the
  // kernel silently keeps only part of them. The iterator cuts the list into messages instead.
  auto it = allocate<iter_ptr>([&] { return nftnl_set_elems_iter_create(set.get()); });
  std::size_t part = 0;
  int more = 0;
  do {
    more =
        b.add(NFT_MSG_NEWSETELEM, NLM_F_CREATE, object_kind::elements,
              fmt::format("add elements to set {} (message {} of its {} elements)", s.name, ++part, s.element_count()),
              [&](nlmsghdr* nlh) { return nftnl_set_elems_nlmsg_build_payload_iter(nlh, it.get()); });
  } while (more == 1);
}

class rule_encoder {
 public:
  rule_encoder(const std::string& chain_name, const rule_plan& plan)
      : plan_(plan), rule_(rule_object(plan.table, chain_name)) {}

  void encode(const rule& r) {
    for (const auto& m : r.matches) encode(m);
    // Where nft puts `counter`: after the matches, so it counts the packets the rule decides, and
    // before the verdict, which ends the rule's evaluation.
    push(expr("counter"));
    if (r.action == verdict::redirect) {
      redirect(r.redirect_port);
    } else if (r.action == verdict::reject) {
      reject_with_reset();
    } else {
      verdict_code(r.action == verdict::accept ? NF_ACCEPT : NFT_RETURN);
    }
    if (!r.name.empty()) comment(r.name);
  }

  nftnl_rule* get() { return rule_.get(); }

 private:
  static expr_ptr expr(const char* name) {
    return allocate<expr_ptr>([&] { return nftnl_expr_alloc(name); });
  }

  void push(expr_ptr e) { nftnl_rule_add_expr(rule_.get(), e.release()); }

  void verdict_code(int code) {
    auto e = expr("immediate");
    nftnl_expr_set_u32(e.get(), NFTNL_EXPR_IMM_DREG, NFT_REG_VERDICT);
    nftnl_expr_set_u32(e.get(), NFTNL_EXPR_IMM_VERDICT, static_cast<std::uint32_t>(code));
    push(std::move(e));
  }

  // nft's `reject with tcp reset`: the kernel answers the packet with a RST, so a local client's
  // connect() fails with ECONNREFUSED, as a remote one's does.
  void reject_with_reset() {
    auto e = expr("reject");
    nftnl_expr_set_u32(e.get(), NFTNL_EXPR_REJECT_TYPE, NFT_REJECT_TCP_RST);
    nftnl_expr_set_u8(e.get(), NFTNL_EXPR_REJECT_CODE, 0);
    push(std::move(e));
  }

  void redirect(std::uint16_t redirect_port) {
    {
      auto e = expr("immediate");
      nftnl_expr_set_u32(e.get(), NFTNL_EXPR_IMM_DREG, NFT_REG_1);
      std::uint16_t port = htons(redirect_port);
      nftnl_expr_set(e.get(), NFTNL_EXPR_IMM_DATA, &port, sizeof port);
      push(std::move(e));
    }
    auto redir = expr("redir");
    nftnl_expr_set_u32(redir.get(), NFTNL_EXPR_REDIR_REG_PROTO_MIN, NFT_REG_1);
    // Never 0: with flags 0 the kernel ignores the port register and the connection lands on
    // its original port on 127.0.0.1, while `nft list` still shows the port, so nothing looks
    // wrong until connections fail (docs/NFTABLES.md, "Pitfalls").
    nftnl_expr_set_u32(redir.get(), NFTNL_EXPR_REDIR_FLAGS, NF_NAT_RANGE_PROTO_SPECIFIED);
    push(std::move(redir));
  }

  // nft's `comment "..."`: a NUL-terminated string in the rule's user data, which the kernel only
  // stores. `nft list` prints it, and read_rule_counters() names each counter by it.
  void comment(const std::string& text) {
    auto ud = allocate<udata_ptr>([] { return nftnl_udata_buf_alloc(NFT_USERDATA_MAXLEN); });
    if (!nftnl_udata_put_strz(ud.get(), NFTNL_UDATA_RULE_COMMENT, text.c_str()))
      throw std::logic_error("rule name too long for a comment: " + text);
    nftnl_rule_set_data(rule_.get(), NFTNL_RULE_USERDATA, nftnl_udata_buf_data(ud.get()),
                        nftnl_udata_buf_len(ud.get()));
  }

  void meta(std::uint32_t key) {
    auto e = expr("meta");
    nftnl_expr_set_u32(e.get(), NFTNL_EXPR_META_KEY, key);
    nftnl_expr_set_u32(e.get(), NFTNL_EXPR_META_DREG, NFT_REG_1);
    push(std::move(e));
  }

  void compare(bool negated, const void* data, std::size_t length) {
    auto e = expr("cmp");
    nftnl_expr_set_u32(e.get(), NFTNL_EXPR_CMP_SREG, NFT_REG_1);
    nftnl_expr_set_u32(e.get(), NFTNL_EXPR_CMP_OP, negated ? NFT_CMP_NEQ : NFT_CMP_EQ);
    nftnl_expr_set(e.get(), NFTNL_EXPR_CMP_DATA, data, static_cast<std::uint32_t>(length));
    push(std::move(e));
  }

  void compare_u8(bool negated, std::uint32_t value) {
    auto byte = static_cast<std::uint8_t>(value);
    compare(negated, &byte, 1);
  }

  void payload(std::uint32_t base, std::uint32_t offset, std::uint32_t length) {
    auto e = expr("payload");
    nftnl_expr_set_u32(e.get(), NFTNL_EXPR_PAYLOAD_BASE, base);
    nftnl_expr_set_u32(e.get(), NFTNL_EXPR_PAYLOAD_OFFSET, offset);
    nftnl_expr_set_u32(e.get(), NFTNL_EXPR_PAYLOAD_LEN, length);
    nftnl_expr_set_u32(e.get(), NFTNL_EXPR_PAYLOAD_DREG, NFT_REG_1);
    push(std::move(e));
  }

  // An inet chain sees both families: an address load must be guarded by the family, or an IPv6
  // packet's bytes would be read as an IPv4 header (and `nft list` could not print the rule).
  void address(std::uint8_t nfproto, std::uint32_t offset, std::uint32_t length) {
    meta(NFT_META_NFPROTO);
    compare_u8(false, nfproto);
    payload(NFT_PAYLOAD_NETWORK_HEADER, offset, length);
  }

  // nft's `ct state new`, `ct status dnat`: load the host-order u32, keep the bits asked for, and
  // compare with zero (not equal: some bit is set).
  void any_bit(std::uint32_t key, const match& m) {
    auto ct = expr("ct");
    nftnl_expr_set_u32(ct.get(), NFTNL_EXPR_CT_KEY, key);
    nftnl_expr_set_u32(ct.get(), NFTNL_EXPR_CT_DREG, NFT_REG_1);
    push(std::move(ct));
    const std::uint32_t zero = 0;
    auto mask = expr("bitwise");
    nftnl_expr_set_u32(mask.get(), NFTNL_EXPR_BITWISE_SREG, NFT_REG_1);
    nftnl_expr_set_u32(mask.get(), NFTNL_EXPR_BITWISE_DREG, NFT_REG_1);
    nftnl_expr_set_u32(mask.get(), NFTNL_EXPR_BITWISE_LEN, sizeof m.value);
    nftnl_expr_set(mask.get(), NFTNL_EXPR_BITWISE_MASK, &m.value, sizeof m.value);
    nftnl_expr_set(mask.get(), NFTNL_EXPR_BITWISE_XOR, &zero, sizeof zero);
    push(std::move(mask));
    compare(!m.negated, &zero, sizeof zero);
  }

  void encode(const match& m) {
    switch (m.what) {
      case field::nfproto:
        meta(NFT_META_NFPROTO);
        break;
      case field::l4proto:
        meta(NFT_META_L4PROTO);
        break;
      case field::tcp_dport:
        meta(NFT_META_L4PROTO);
        compare_u8(false, IPPROTO_TCP);
        payload(NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2);
        break;
      case field::ip_saddr:
        address(NFPROTO_IPV4, 12, 4);
        break;
      case field::ip_daddr:
        address(NFPROTO_IPV4, 16, 4);
        break;
      case field::ip6_saddr:
        address(NFPROTO_IPV6, 8, 16);
        break;
      case field::ip6_daddr:
        address(NFPROTO_IPV6, 24, 16);
        break;
      case field::mark:
        meta(NFT_META_MARK);
        break;
      case field::skuid:
        meta(NFT_META_SKUID);
        break;
      case field::skgid:
        meta(NFT_META_SKGID);
        break;
      case field::iifname:
        meta(NFT_META_IIFNAME);
        break;
      case field::oifname:
        meta(NFT_META_OIFNAME);
        break;
      case field::ct_state:
        any_bit(NFT_CT_STATE, m);
        return;
      case field::ct_status:
        any_bit(NFT_CT_STATUS, m);
        return;
    }
    if (!m.set.empty()) {
      auto e = expr("lookup");
      nftnl_expr_set_u32(e.get(), NFTNL_EXPR_LOOKUP_SREG, NFT_REG_1);
      nftnl_expr_set_str(e.get(), NFTNL_EXPR_LOOKUP_SET, m.set.c_str());
      nftnl_expr_set_u32(e.get(), NFTNL_EXPR_LOOKUP_SET_ID, set_id(m.set));
      if (m.negated) nftnl_expr_set_u32(e.get(), NFTNL_EXPR_LOOKUP_FLAGS, NFT_LOOKUP_F_INV);
      push(std::move(e));
      return;
    }
    switch (m.what) {
      case field::nfproto:
      case field::l4proto:
        compare_u8(m.negated, m.value);
        break;
      case field::tcp_dport: {
        std::uint16_t be = htons(static_cast<std::uint16_t>(m.value));
        compare(m.negated, &be, 2);
        break;
      }
      // Marks and socket ids are host-order u32 in the kernel's registers.
      default:
        compare(m.negated, &m.value, 4);
        break;
    }
  }

  std::uint32_t set_id(const std::string& name) const {
    for (std::size_t i = 0; i < plan_.sets.size(); ++i) {
      if (plan_.sets[i].name == name) return static_cast<std::uint32_t>(i + 1);
    }
    throw std::logic_error("rule refers to set " + name + ", which the plan does not declare");
  }

  const rule_plan& plan_;
  rule_ptr rule_;
};

void new_rule(nft_batch& b, const rule_plan& plan, const chain& c, const rule& r, std::size_t index) {
  rule_encoder enc(c.name, plan);
  enc.encode(r);
  b.add(NFT_MSG_NEWRULE, NLM_F_CREATE | NLM_F_APPEND, object_kind::rule,
        fmt::format("add rule {} of chain {} `{}`", index + 1, c.name, render_rule(r)), [&](nlmsghdr* nlh) {
          nftnl_rule_nlmsg_build_payload(nlh, enc.get());
          return 0;
        });
}

}  // namespace

void create_table(nft_batch& b, const std::string& name, ownership own) {
  table_message(b, NFT_MSG_NEWTABLE, name, table_flags(own),
                fmt::format("create table inet {}{}", name, own == ownership::owner ? " (owned)" : ""));
}

void update_table(nft_batch& b, const std::string& name, ownership own) {
  table_message(b, NFT_MSG_NEWTABLE, name, table_flags(own), fmt::format("update table inet {}", name));
}

void delete_table(nft_batch& b, const std::string& name) {
  table_message(b, NFT_MSG_DELTABLE, name, 0, fmt::format("delete table inet {}", name));
}

// NEWTABLE without EXCL is a no-op on an existing table and creates a missing one, so the DELTABLE
// after it cannot fail with ENOENT. Its flags are 0, those of a table `rules install` left; a table
// owned by a running detourd refuses it (EPERM), so it is never deleted from under its owner.
void reset_table(nft_batch& b, const std::string& name) {
  table_message(b, NFT_MSG_NEWTABLE, name, 0, fmt::format("take over existing table inet {}", name));
  table_message(b, NFT_MSG_DELTABLE, name, 0, fmt::format("delete existing table inet {}", name));
}

void create_chain(nft_batch& b, const std::string& table, const chain& c) {
  auto ch = chain_object(table, c.name);
  nftnl_chain_set_str(ch.get(), NFTNL_CHAIN_TYPE, std::string(to_string(c.type)).c_str());
  nftnl_chain_set_u32(ch.get(), NFTNL_CHAIN_HOOKNUM, hook_number(c.where));
  nftnl_chain_set_s32(ch.get(), NFTNL_CHAIN_PRIO, c.priority);
  nftnl_chain_set_u32(ch.get(), NFTNL_CHAIN_POLICY, NF_ACCEPT);
  chain_message(b, NFT_MSG_NEWCHAIN, NLM_F_CREATE, ch,
                fmt::format("create chain {} (type {} hook {} priority {})", c.name, to_string(c.type),
                            to_string(c.where), c.priority));
}

void delete_chain(nft_batch& b, const std::string& table, const std::string& name) {
  chain_message(b, NFT_MSG_DELCHAIN, 0, chain_object(table, name), fmt::format("delete chain {}", name));
}

// DELRULE naming only the chain deletes every rule in it: nft's `flush chain`.
void flush_chain(nft_batch& b, const std::string& table, const std::string& name) {
  auto r = rule_object(table, name);
  b.add(NFT_MSG_DELRULE, 0, object_kind::chain, fmt::format("flush chain {}", name), [&](nlmsghdr* nlh) {
    nftnl_rule_nlmsg_build_payload(nlh, r.get());
    return 0;
  });
}

void create_sets(nft_batch& b, const rule_plan& plan) {
  for (std::size_t i = 0; i < plan.sets.size(); ++i) {
    new_set(b, plan.table, plan.sets[i], static_cast<std::uint32_t>(i + 1));
    add_elements(b, plan.table, plan.sets[i], static_cast<std::uint32_t>(i + 1));
  }
}

void delete_set(nft_batch& b, const std::string& table, const set_decl& s) {
  auto set = set_object(table, s.name);
  b.add(NFT_MSG_DELSET, 0, object_kind::set, fmt::format("delete set {}", s.name), [&](nlmsghdr* nlh) {
    nftnl_set_nlmsg_build_payload(nlh, set.get());
    return 0;
  });
}

void add_rules(nft_batch& b, const rule_plan& plan) {
  for (const auto& c : plan.chains) {
    for (std::size_t i = 0; i < c.rules.size(); ++i) new_rule(b, plan, c, c.rules[i], i);
  }
}

void add_contents(nft_batch& b, const rule_plan& plan) {
  create_sets(b, plan);
  for (const auto& c : plan.chains) create_chain(b, plan.table, c);
  add_rules(b, plan);
}

rule_plan with_generation(const rule_plan& plan, unsigned gen) {
  if (gen == 0) return plan;
  auto suffix = fmt::format("_g{}", gen);
  auto out = plan;
  for (auto& s : out.sets) s.name += suffix;
  for (auto& c : out.chains) {
    for (auto& r : c.rules) {
      for (auto& m : r.matches) {
        if (!m.set.empty()) m.set += suffix;
      }
    }
  }
  return out;
}

}  // namespace detour::rules
