#include "detour/rules/nft_encode.hpp"

#include "detour/rules/nft_rule_encode.hpp"
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

constexpr std::uint32_t family = nft_family;

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

void new_rule(nft_batch& b, const rule_plan& plan, const chain& c, const rule& r, std::size_t index) {
  auto encoded = encode_rule(plan, c.name, r);
  b.add(NFT_MSG_NEWRULE, NLM_F_CREATE | NLM_F_APPEND, object_kind::rule,
        fmt::format("add rule {} of chain {} `{}`", index + 1, c.name, render_rule(r)), [&](nlmsghdr* nlh) {
          nftnl_rule_nlmsg_build_payload(nlh, encoded.get());
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
