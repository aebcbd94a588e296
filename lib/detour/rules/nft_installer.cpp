#include "detour/rules/nft_installer.hpp"

#include "detour/rules/render_nft.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <libmnl/libmnl.h>
#include <libnftnl/chain.h>
#include <libnftnl/common.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>
#include <libnftnl/udata.h>

#include <arpa/inet.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_nat.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <map>
#include <vector>

// Missing from the 6.1 UAPI headers this builds against.
#ifndef NLM_F_CAPPED
#define NLM_F_CAPPED 0x100
#endif
#ifndef NLM_F_ACK_TLVS
#define NLM_F_ACK_TLVS 0x200
#endif

namespace detour::rules {
namespace {

// libnftnl objects are C; each is owned by one of these until handed to its parent.
template <typename T, auto Free>
struct c_deleter {
  void operator()(T* p) const { Free(p); }
};
using table_ptr = std::unique_ptr<nftnl_table, c_deleter<nftnl_table, nftnl_table_free>>;
using chain_ptr = std::unique_ptr<nftnl_chain, c_deleter<nftnl_chain, nftnl_chain_free>>;
using set_ptr = std::unique_ptr<nftnl_set, c_deleter<nftnl_set, nftnl_set_free>>;
using elem_ptr = std::unique_ptr<nftnl_set_elem, c_deleter<nftnl_set_elem, nftnl_set_elem_free>>;
using rule_ptr = std::unique_ptr<nftnl_rule, c_deleter<nftnl_rule, nftnl_rule_free>>;
using expr_ptr = std::unique_ptr<nftnl_expr, c_deleter<nftnl_expr, nftnl_expr_free>>;
using iter_ptr = std::unique_ptr<nftnl_set_elems_iter, c_deleter<nftnl_set_elems_iter, nftnl_set_elems_iter_destroy>>;
using udata_ptr = std::unique_ptr<nftnl_udata_buf, c_deleter<nftnl_udata_buf, nftnl_udata_buf_free>>;

template <typename P, typename F>
P allocate(F alloc) {
  P p(alloc());
  if (!p) throw std::bad_alloc();
  return p;
}

constexpr std::uint16_t family = NFPROTO_INET;

enum class object_kind { batch, table, chain, set, elements, rule };

struct request {
  object_kind kind;
  std::string what;  // "create chain output (hook output, priority -99)"
};

}  // namespace

// A batch in a growing buffer: every message gets its own seq, remembered with a description, so a
// reply can name what it refers to. libmnl's fixed-size batch buffer would need a guess of the
// size up front; thousands of set elements make that guess hard.
class nft_batch {
 public:
  explicit nft_batch(std::uint32_t& seq) : seq_(seq) {
    begin_seq_ = seq_++;
    nftnl_batch_begin(reserve(), begin_seq_);
    commit();
    requests_[begin_seq_] = {object_kind::batch, "start the batch"};
  }

  // `fill` gets a message header to complete; returns whatever `fill` returns.
  template <typename F>
  auto add(std::uint16_t type, std::uint16_t flags, object_kind kind, std::string what, F&& fill) {
    auto seq = seq_++;
    auto* nlh = nftnl_nlmsg_build_hdr(reserve(), type, family, static_cast<std::uint16_t>(flags | NLM_F_ACK), seq);
    requests_[seq] = {kind, std::move(what)};
    ++messages_;
    auto result = fill(nlh);
    commit();
    return result;
  }

  void finish() {
    auto seq = seq_++;
    nftnl_batch_end(reserve(), seq);
    commit();
  }

  const char* data() const { return buffer_.data(); }
  std::size_t size() const { return used_; }
  std::size_t messages() const { return messages_; }
  std::uint32_t begin_seq() const { return begin_seq_; }
  const request* find(std::uint32_t seq) const {
    auto it = requests_.find(seq);
    return it == requests_.end() ? nullptr : &it->second;
  }

 private:
  // libnftnl writes without bounds checks; a set-element message is cut at 8 KiB of payload
  // (BUFSIZ) and a rule is far smaller, so 64 KiB of headroom always suffices.
  char* reserve() {
    constexpr std::size_t headroom = 64 * 1024;
    if (buffer_.size() < used_ + headroom) buffer_.resize(std::max(buffer_.size() * 2, used_ + headroom));
    std::memset(buffer_.data() + used_, 0, headroom);
    return buffer_.data() + used_;
  }

  void commit() {
    auto* nlh = reinterpret_cast<nlmsghdr*>(buffer_.data() + used_);
    used_ += NLMSG_ALIGN(nlh->nlmsg_len);
  }

  std::uint32_t& seq_;
  std::uint32_t begin_seq_;
  std::vector<char> buffer_;
  std::size_t used_ = 0;
  std::size_t messages_ = 0;
  std::map<std::uint32_t, request> requests_;
};

namespace {

// ---- encoding ---------------------------------------------------------------------------------

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

std::uint32_t hook_number(hook h) { return h == hook::output ? NF_INET_LOCAL_OUT : NF_INET_PRE_ROUTING; }

void new_chain(nft_batch& b, const std::string& table, const chain& c) {
  auto ch = allocate<chain_ptr>(nftnl_chain_alloc);
  nftnl_chain_set_str(ch.get(), NFTNL_CHAIN_TABLE, table.c_str());
  nftnl_chain_set_str(ch.get(), NFTNL_CHAIN_NAME, c.name.c_str());
  nftnl_chain_set_u32(ch.get(), NFTNL_CHAIN_FAMILY, family);
  nftnl_chain_set_str(ch.get(), NFTNL_CHAIN_TYPE, "nat");
  nftnl_chain_set_u32(ch.get(), NFTNL_CHAIN_HOOKNUM, hook_number(c.where));
  nftnl_chain_set_s32(ch.get(), NFTNL_CHAIN_PRIO, c.priority);
  nftnl_chain_set_u32(ch.get(), NFTNL_CHAIN_POLICY, NF_ACCEPT);
  b.add(NFT_MSG_NEWCHAIN, NLM_F_CREATE, object_kind::chain,
        fmt::format("create chain {} (type nat hook {} priority {})", c.name, to_string(c.where), c.priority),
        [&](nlmsghdr* nlh) {
          nftnl_chain_nlmsg_build_payload(nlh, ch.get());
          return 0;
        });
}

void delete_chain(nft_batch& b, const std::string& table, const std::string& name) {
  auto ch = allocate<chain_ptr>(nftnl_chain_alloc);
  nftnl_chain_set_str(ch.get(), NFTNL_CHAIN_TABLE, table.c_str());
  nftnl_chain_set_str(ch.get(), NFTNL_CHAIN_NAME, name.c_str());
  nftnl_chain_set_u32(ch.get(), NFTNL_CHAIN_FAMILY, family);
  b.add(NFT_MSG_DELCHAIN, 0, object_kind::chain, fmt::format("delete chain {}", name), [&](nlmsghdr* nlh) {
    nftnl_chain_nlmsg_build_payload(nlh, ch.get());
    return 0;
  });
}

// DELRULE naming only the chain deletes every rule in it: nft's `flush chain`.
void flush_chain(nft_batch& b, const std::string& table, const std::string& name) {
  auto r = allocate<rule_ptr>(nftnl_rule_alloc);
  nftnl_rule_set_str(r.get(), NFTNL_RULE_TABLE, table.c_str());
  nftnl_rule_set_str(r.get(), NFTNL_RULE_CHAIN, name.c_str());
  nftnl_rule_set_u32(r.get(), NFTNL_RULE_FAMILY, family);
  b.add(NFT_MSG_DELRULE, 0, object_kind::chain, fmt::format("flush chain {}", name), [&](nlmsghdr* nlh) {
    nftnl_rule_nlmsg_build_payload(nlh, r.get());
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
    case set_type::ipv4_addr: return {7, 4, 2};
    case set_type::ipv6_addr: return {8, 16, 2};
    case set_type::inet_service: return {13, 2, 2};
    case set_type::uid: return {24, 4, 1};
    case set_type::gid: return {25, 4, 1};
    case set_type::ifname: return {41, IFNAMSIZ, 1};
  }
  return {0, 0, 0};
}

set_ptr set_object(const std::string& table, const set_decl& s, std::uint32_t id) {
  auto set = allocate<set_ptr>(nftnl_set_alloc);
  nftnl_set_set_str(set.get(), NFTNL_SET_TABLE, table.c_str());
  nftnl_set_set_str(set.get(), NFTNL_SET_NAME, s.name.c_str());
  nftnl_set_set_u32(set.get(), NFTNL_SET_FAMILY, family);
  nftnl_set_set_u32(set.get(), NFTNL_SET_ID, id);
  return set;
}

void new_set(nft_batch& b, const std::string& table, const set_decl& s, std::uint32_t id) {
  auto set = set_object(table, s, id);
  auto key = key_of(s.type);
  nftnl_set_set_u32(set.get(), NFTNL_SET_FLAGS, s.is_interval() ? NFT_SET_INTERVAL : 0);
  nftnl_set_set_u32(set.get(), NFTNL_SET_KEY_TYPE, key.nft_type);
  nftnl_set_set_u32(set.get(), NFTNL_SET_KEY_LEN, key.length);
  auto ud = allocate<udata_ptr>([] { return nftnl_udata_buf_alloc(64); });
  nftnl_udata_put_u32(ud.get(), NFTNL_UDATA_SET_KEYBYTEORDER, key.byteorder);
  nftnl_set_set_data(set.get(), NFTNL_SET_USERDATA, nftnl_udata_buf_data(ud.get()), nftnl_udata_buf_len(ud.get()));
  b.add(NFT_MSG_NEWSET, NLM_F_CREATE, object_kind::set, fmt::format("create set {} (type {})", s.name, to_string(s.type)),
        [&](nlmsghdr* nlh) {
          nftnl_set_nlmsg_build_payload(nlh, set.get());
          return 0;
        });
}

void delete_set(nft_batch& b, const std::string& table, const set_decl& s) {
  auto set = allocate<set_ptr>(nftnl_set_alloc);
  nftnl_set_set_str(set.get(), NFTNL_SET_TABLE, table.c_str());
  nftnl_set_set_str(set.get(), NFTNL_SET_NAME, s.name.c_str());
  nftnl_set_set_u32(set.get(), NFTNL_SET_FAMILY, family);
  b.add(NFT_MSG_DELSET, 0, object_kind::set, fmt::format("delete set {}", s.name), [&](nlmsghdr* nlh) {
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

// An interval covers [start, end): the end element holds the first key after it, and is left out
// when the interval runs to the top of the key space (there is no key after it).
void add_prefix(nftnl_set* set, const net::cidr& c) {
  if (c.is_v4()) {
    auto first = c.address.to_v4().to_uint();
    std::uint32_t be = htonl(first);
    add_element(set, &be, 4, false);
    std::uint64_t next = std::uint64_t{first} + (std::uint64_t{1} << (32 - c.prefix_length));
    if (next <= 0xffffffffULL) {
      be = htonl(static_cast<std::uint32_t>(next));
      add_element(set, &be, 4, true);
    }
    return;
  }
  auto bytes = c.address.to_v6().to_bytes();
  add_element(set, bytes.data(), 16, false);
  // Add 2^(128 - prefix) to the big-endian address, byte by byte.
  if (c.prefix_length == 0) return;
  auto bit = 128 - c.prefix_length;
  auto index = 15 - static_cast<int>(bit / 8);
  unsigned carry = 1U << (bit % 8);
  for (int i = index; i >= 0 && carry != 0; --i) {
    unsigned sum = bytes[static_cast<std::size_t>(i)] + carry;
    bytes[static_cast<std::size_t>(i)] = static_cast<unsigned char>(sum & 0xff);
    carry = sum >> 8;
  }
  if (carry == 0) add_element(set, bytes.data(), 16, true);
}

void add_elements(nft_batch& b, const std::string& table, const set_decl& s, std::uint32_t id) {
  if (s.element_count() == 0) return;
  auto set = set_object(table, s, id);
  for (const auto& c : s.prefixes) add_prefix(set.get(), c);
  for (const auto& p : s.ports) {
    std::uint16_t be = htons(p.first);
    add_element(set.get(), &be, 2, false);
    if (p.last != 65535) {
      be = htons(static_cast<std::uint16_t>(p.last + 1));
      add_element(set.get(), &be, 2, true);
    }
  }
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
    more = b.add(NFT_MSG_NEWSETELEM, NLM_F_CREATE, object_kind::elements,
                 fmt::format("add elements to set {} (message {} of its {} elements)", s.name, ++part, s.element_count()),
                 [&](nlmsghdr* nlh) { return nftnl_set_elems_nlmsg_build_payload_iter(nlh, it.get()); });
  } while (more == 1);
}

class rule_encoder {
 public:
  rule_encoder(const std::string& table, const std::string& chain_name, const rule_plan& plan)
      : plan_(plan), rule_(allocate<rule_ptr>(nftnl_rule_alloc)) {
    nftnl_rule_set_str(rule_.get(), NFTNL_RULE_TABLE, table.c_str());
    nftnl_rule_set_str(rule_.get(), NFTNL_RULE_CHAIN, chain_name.c_str());
    nftnl_rule_set_u32(rule_.get(), NFTNL_RULE_FAMILY, family);
  }

  void encode(const rule& r) {
    for (const auto& m : r.matches) encode(m);
    if (r.action == verdict::return_) {
      auto e = expr("immediate");
      nftnl_expr_set_u32(e.get(), NFTNL_EXPR_IMM_DREG, NFT_REG_VERDICT);
      nftnl_expr_set_u32(e.get(), NFTNL_EXPR_IMM_VERDICT, static_cast<std::uint32_t>(NFT_RETURN));
      push(std::move(e));
    } else {
      auto e = expr("immediate");
      nftnl_expr_set_u32(e.get(), NFTNL_EXPR_IMM_DREG, NFT_REG_1);
      std::uint16_t port = htons(r.redirect_port);
      nftnl_expr_set(e.get(), NFTNL_EXPR_IMM_DATA, &port, sizeof port);
      push(std::move(e));
      auto redir = expr("redir");
      nftnl_expr_set_u32(redir.get(), NFTNL_EXPR_REDIR_REG_PROTO_MIN, NFT_REG_1);
      // Never 0: with flags 0 the kernel ignores the port register and the connection lands on
      // its original port on 127.0.0.1, while `nft list` still shows the port (NFTABLES.md §9.1).
      nftnl_expr_set_u32(redir.get(), NFTNL_EXPR_REDIR_FLAGS, NF_NAT_RANGE_PROTO_SPECIFIED);
      push(std::move(redir));
    }
  }

  nftnl_rule* get() { return rule_.get(); }

 private:
  static expr_ptr expr(const char* name) {
    return allocate<expr_ptr>([&] { return nftnl_expr_alloc(name); });
  }

  void push(expr_ptr e) { nftnl_rule_add_expr(rule_.get(), e.release()); }

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

  void encode(const match& m) {
    switch (m.what) {
      case field::nfproto: meta(NFT_META_NFPROTO); break;
      case field::l4proto: meta(NFT_META_L4PROTO); break;
      case field::tcp_dport:
        meta(NFT_META_L4PROTO);
        compare_u8(false, IPPROTO_TCP);
        payload(NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2);
        break;
      case field::ip_saddr: address(NFPROTO_IPV4, 12, 4); break;
      case field::ip_daddr: address(NFPROTO_IPV4, 16, 4); break;
      case field::ip6_saddr: address(NFPROTO_IPV6, 8, 16); break;
      case field::ip6_daddr: address(NFPROTO_IPV6, 24, 16); break;
      case field::mark: meta(NFT_META_MARK); break;
      case field::skuid: meta(NFT_META_SKUID); break;
      case field::skgid: meta(NFT_META_SKGID); break;
      case field::iifname: meta(NFT_META_IIFNAME); break;
      case field::oifname: meta(NFT_META_OIFNAME); break;
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
      case field::l4proto: compare_u8(m.negated, m.value); break;
      case field::tcp_dport: {
        std::uint16_t be = htons(static_cast<std::uint16_t>(m.value));
        compare(m.negated, &be, 2);
        break;
      }
      // Marks and socket ids are host-order u32 in the kernel's registers.
      default: compare(m.negated, &m.value, 4); break;
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
  rule_encoder enc(plan.table, c.name, plan);
  enc.encode(r);
  b.add(NFT_MSG_NEWRULE, NLM_F_CREATE | NLM_F_APPEND, object_kind::rule,
        fmt::format("add rule {} of chain {} `{}`", index + 1, c.name, render_rule(r)), [&](nlmsghdr* nlh) {
          nftnl_rule_nlmsg_build_payload(nlh, enc.get());
          return 0;
        });
}

// The table's contents, for a table that is empty or was just created in this batch.
void add_contents(nft_batch& b, const rule_plan& plan) {
  for (std::size_t i = 0; i < plan.sets.size(); ++i) {
    new_set(b, plan.table, plan.sets[i], static_cast<std::uint32_t>(i + 1));
    add_elements(b, plan.table, plan.sets[i], static_cast<std::uint32_t>(i + 1));
  }
  for (const auto& c : plan.chains) new_chain(b, plan.table, c);
  for (const auto& c : plan.chains) {
    for (std::size_t i = 0; i < c.rules.size(); ++i) new_rule(b, plan, c, c.rules[i], i);
  }
}

// Set names of generation `gen` (0: as planned), for the double-buffered sets of replace().
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

std::uint32_t table_flags(ownership own) { return own == ownership::owner ? NFT_TABLE_F_OWNER : 0; }

// "Whatever table of this name exists, replace it": NEWTABLE without EXCL is a no-op on an existing
// table and creates a missing one, so the DELTABLE after it cannot fail with ENOENT, and the new
// table follows in the same batch. `existing_flags` must match the flags of the table that is
// there: NEWTABLE cannot add or drop the owner flag (EOPNOTSUPP).
void reset_table(nft_batch& b, const std::string& name, std::uint32_t existing_flags) {
  table_message(b, NFT_MSG_NEWTABLE, name, existing_flags, fmt::format("take over existing table inet {}", name));
  table_message(b, NFT_MSG_DELTABLE, name, 0, fmt::format("delete existing table inet {}", name));
}

// ---- replies ----------------------------------------------------------------------------------

std::string errno_name(int e) {
  switch (e) {
    case EPERM: return "EPERM";
    case ENOENT: return "ENOENT";
    case EEXIST: return "EEXIST";
    case EINVAL: return "EINVAL";
    case EBUSY: return "EBUSY";
    case ENOMEM: return "ENOMEM";
    case ENOBUFS: return "ENOBUFS";
    case EMSGSIZE: return "EMSGSIZE";
    case EOPNOTSUPP: return "EOPNOTSUPP";
    case ERANGE: return "ERANGE";
    case E2BIG: return "E2BIG";
    case ENOSPC: return "ENOSPC";
    case EAFNOSUPPORT: return "EAFNOSUPPORT";
    default: return fmt::format("errno {}", e);
  }
}

std::string likely_cause(object_kind kind, int e) {
  if (kind == object_kind::batch) {
    if (e == EPERM) return "this process lacks CAP_NET_ADMIN in its network namespace (run as root or grant the capability)";
    if (e == EOPNOTSUPP) return "the kernel has no nf_tables support (CONFIG_NF_TABLES)";
  }
  switch (e) {
    case EPERM:
      return "the table is owned by another process (a running detourd keeps its table until it exits; "
             "the kernel removes it then), or this process lacks CAP_NET_ADMIN";
    case EOPNOTSUPP:
      if (kind == object_kind::chain) {
        return "the kernel refuses a nat chain at this priority (nat needs a priority above -200) or lacks nat "
               "support (CONFIG_NFT_NAT); an existing chain's priority cannot change in place";
      }
      if (kind == object_kind::table) return "a table of that name exists with other ownership flags";
      return "the kernel does not support this";
    case ENOENT:
      if (kind == object_kind::rule) {
        return "the kernel lacks an expression this rule needs (meta, payload, lookup, immediate, redir: "
               "CONFIG_NFT_REDIR, CONFIG_NFT_NAT), or an earlier failure in this batch removed what it refers to";
      }
      if (kind == object_kind::chain) return "the kernel lacks the nat chain type (CONFIG_NFT_NAT, conntrack)";
      if (kind == object_kind::table) return "there is no such table";
      return "it refers to something that does not exist";
    case EEXIST: return "it already exists, or set elements overlap";
    case EBUSY: return "it is still in use";
    case EINVAL: return "the kernel did not accept its attributes (a kernel older than this program expects?)";
    case ENOMEM:
    case ENOBUFS:
    case EMSGSIZE:
    case E2BIG:
    case ENOSPC: return "the ruleset is too large for the kernel's limits";
    default: return "unknown";
  }
}

struct reply_error {
  std::uint32_t seq;
  int error;
  std::string kernel_message;
};

// Extended ACK attributes follow the nlmsgerr; with NETLINK_CAP_ACK the request is not echoed.
std::string extack_message(const nlmsghdr* nlh) {
  if ((nlh->nlmsg_flags & NLM_F_ACK_TLVS) == 0) return {};
  const auto* base = static_cast<const char*>(mnl_nlmsg_get_payload(nlh)) + sizeof(nlmsgerr);
  auto end = reinterpret_cast<const char*>(nlh) + nlh->nlmsg_len;
  while (base + sizeof(nlattr) <= end) {
    const auto* attr = reinterpret_cast<const nlattr*>(base);
    if (attr->nla_len < sizeof(nlattr) || base + attr->nla_len > end) break;
    if ((attr->nla_type & NLA_TYPE_MASK) == NLMSGERR_ATTR_MSG) {
      const char* text = base + sizeof(nlattr);
      return std::string(text, strnlen(text, attr->nla_len - sizeof(nlattr)));
    }
    base += (attr->nla_len + 3U) & ~3U;
  }
  return {};
}

void set_buffer(int fd, int force_option, int option, std::size_t bytes) {
  auto value = static_cast<int>(std::min<std::size_t>(bytes, 1U << 30));
  // The FORCE variants ignore net.core.[rw]mem_max but need CAP_NET_ADMIN, which we need anyway.
  if (::setsockopt(fd, SOL_SOCKET, force_option, &value, sizeof value) != 0) {
    ::setsockopt(fd, SOL_SOCKET, option, &value, sizeof value);
  }
}

}  // namespace

// ---- nft_installer ----------------------------------------------------------------------------

nft_installer::nft_installer()
    : socket_(mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC), mnl_socket_close),
      seq_(static_cast<std::uint32_t>(::time(nullptr))) {
  if (!socket_) {
    throw rules_error(fmt::format("nftables: cannot open a netfilter netlink socket: {}; likely cause: the kernel "
                                  "has no nfnetlink (CONFIG_NETFILTER_NETLINK)",
                                  std::strerror(errno)),
                      errno);
  }
  int one = 1;
  // Extended ACKs may name the attribute at fault; CAP_ACK keeps a failed 8 KiB request from being
  // echoed back in full.
  mnl_socket_setsockopt(socket_.get(), NETLINK_EXT_ACK, &one, sizeof one);
  mnl_socket_setsockopt(socket_.get(), NETLINK_CAP_ACK, &one, sizeof one);
  if (mnl_socket_bind(socket_.get(), 0, MNL_SOCKET_AUTOPID) < 0) {
    throw rules_error(fmt::format("nftables: cannot bind the netlink socket: {}", std::strerror(errno)), errno);
  }
}

nft_installer::~nft_installer() = default;

std::uint32_t nft_installer::port_id() const { return mnl_socket_get_portid(socket_.get()); }

void nft_installer::send(nft_batch& b) {
  b.finish();
  int fd = mnl_socket_get_fd(socket_.get());
  // A batch larger than SO_SNDBUF fails with EMSGSIZE (10000 prefixes: 400 KB against 208 KiB);
  // and each message gets an ACK, which must fit the receive buffer until we drain it.
  set_buffer(fd, SO_SNDBUFFORCE, SO_SNDBUF, b.size() + 64 * 1024);
  set_buffer(fd, SO_RCVBUFFORCE, SO_RCVBUF, b.messages() * 1024 + 256 * 1024);
  if (mnl_socket_sendto(socket_.get(), b.data(), b.size()) < 0) {
    int e = errno;
    throw rules_error(fmt::format("nftables: cannot send the batch ({} messages, {} bytes): {} ({}); likely cause: {}",
                                  b.messages(), b.size(), std::strerror(e), errno_name(e),
                                  likely_cause(object_kind::batch, e)),
                      e);
  }
  // nfnetlink handles the whole batch inside sendmsg(), so every reply is queued by now: drain with
  // a zero timeout rather than wait for an ACK that an error on BATCH_BEGIN would never send.
  std::vector<reply_error> errors;
  std::size_t acks = 0;
  bool overrun = false;
  std::vector<char> buffer(static_cast<std::size_t>(MNL_SOCKET_BUFFER_SIZE) * 4);
  for (;;) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 0) <= 0) break;
    auto n = ::recv(fd, buffer.data(), buffer.size(), 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == ENOBUFS) overrun = true;
      break;
    }
    auto remaining = static_cast<int>(n);
    for (auto* nlh = reinterpret_cast<nlmsghdr*>(buffer.data()); mnl_nlmsg_ok(nlh, remaining);
         nlh = mnl_nlmsg_next(nlh, &remaining)) {
      if (nlh->nlmsg_type != NLMSG_ERROR) continue;
      const auto* err = static_cast<const nlmsgerr*>(mnl_nlmsg_get_payload(nlh));
      if (err->error == 0) {
        ++acks;
      } else {
        errors.push_back({nlh->nlmsg_seq, -err->error, extack_message(nlh)});
      }
    }
  }
  if (!errors.empty()) {
    // The first error is the cause; later ones are mostly ENOENTs for what the failed one would
    // have created.
    const auto& first = errors.front();
    const auto* req = b.find(first.seq);
    auto kind = req ? req->kind : object_kind::batch;
    auto text = fmt::format("nftables: cannot {}: {} ({}){}; likely cause: {}{}", req ? req->what : "apply the batch",
                            std::strerror(first.error), errno_name(first.error),
                            first.kernel_message.empty() ? "" : " (kernel: " + first.kernel_message + ")",
                            likely_cause(kind, first.error),
                            errors.size() > 1 ? fmt::format("; {} later errors follow from it", errors.size() - 1) : "");
    throw rules_error(text, first.error);
  }
  if (overrun || acks < b.messages()) {
    throw rules_error(fmt::format("nftables: got {} of {} replies to the batch{}; whether it applied is unknown",
                                  acks, b.messages(), overrun ? " (receive buffer overrun)" : ""),
                      overrun ? ENOBUFS : EIO);
  }
}

void nft_installer::install(const rule_plan& plan, ownership own) {
  if (installed_) {
    replace(plan);
    return;
  }
  nft_batch b(seq_);
  reset_table(b, plan.table, 0);
  table_message(b, NFT_MSG_NEWTABLE, plan.table, table_flags(own),
                fmt::format("create table inet {}{}", plan.table, own == ownership::owner ? " (owned)" : ""));
  add_contents(b, plan);
  send(b);
  installed_ = plan;
  installed_ownership_ = own;
}

void nft_installer::replace(const rule_plan& requested) {
  if (!installed_) throw std::logic_error("nft_installer::replace before install");
  const auto old = *installed_;
  auto flags = table_flags(installed_ownership_);

  if (requested.table != old.table) {
    // A new name is a new table: install it beside the old one, then delete the old one. For the
    // moment both exist, both redirect to the same port.
    auto own = installed_ownership_;
    installed_.reset();
    try {
      install(requested, own);
    } catch (...) {
      installed_ = old;
      throw;
    }
    installed_ownership_ = own;
    remove(old.table);
    installed_ = requested;
    return;
  }

  // Measured on 6.18 under a connect loop: when one batch both fills a set and swaps in rules that
  // look it up, a few connections (4-28 of 4000) see the new rules with the set's old contents (an
  // empty set if it is new). So sets are double-buffered: the new generation's sets are created and
  // filled in a batch of their own, while nothing refers to them; the next batch swaps the rules
  // over to them; a last one deletes the previous generation's sets. Each batch is atomic, and no
  // packet can see a rule whose set is not complete.
  auto plan = with_generation(requested, ++generation_);
  {
    nft_batch b(seq_);
    for (std::size_t i = 0; i < plan.sets.size(); ++i) {
      new_set(b, plan.table, plan.sets[i], static_cast<std::uint32_t>(i + 1));
      add_elements(b, plan.table, plan.sets[i], static_cast<std::uint32_t>(i + 1));
    }
    if (!plan.sets.empty()) send(b);
  }

  auto find_chain = [](const rule_plan& p, const std::string& name) -> const chain* {
    auto it = std::find_if(p.chains.begin(), p.chains.end(), [&](const chain& c) { return c.name == name; });
    return it == p.chains.end() ? nullptr : &*it;
  };
  auto same_hook = [](const chain* a, const chain* b) {
    return a && b && a->where == b->where && a->priority == b->priority;
  };
  nft_batch b(seq_);
  table_message(b, NFT_MSG_NEWTABLE, plan.table, flags, fmt::format("update table inet {}", plan.table));
  for (const auto& c : old.chains) {
    // A base chain's hook and priority cannot change (EOPNOTSUPP): such a chain is deleted and
    // created again in this batch; the others are flushed and keep their hook registration, and
    // with it their place among other tools' chains of equal priority.
    if (same_hook(&c, find_chain(plan, c.name))) {
      flush_chain(b, plan.table, c.name);
    } else {
      delete_chain(b, plan.table, c.name);
    }
  }
  for (const auto& c : plan.chains) {
    if (!same_hook(&c, find_chain(old, c.name))) new_chain(b, plan.table, c);
  }
  for (const auto& c : plan.chains) {
    for (std::size_t i = 0; i < c.rules.size(); ++i) new_rule(b, plan, c, c.rules[i], i);
  }
  try {
    send(b);
  } catch (...) {
    delete_sets(plan.table, plan.sets);
    throw;
  }
  installed_ = plan;
  delete_sets(plan.table, old.sets);
}

void nft_installer::delete_sets(const std::string& table, const std::vector<set_decl>& sets) noexcept {
  if (sets.empty()) return;
  try {
    nft_batch b(seq_);
    for (const auto& s : sets) delete_set(b, table, s);
    send(b);
  } catch (const std::exception& e) {
    // Unreferenced leftovers change no packet's fate; they go with the table.
    spdlog::warn("rules: {}", e.what());
  }
}

bool nft_installer::remove(const std::string& table) {
  nft_batch b(seq_);
  table_message(b, NFT_MSG_DELTABLE, table, 0, fmt::format("delete table inet {}", table));
  try {
    send(b);
  } catch (const rules_error& e) {
    if (e.error_number() == ENOENT) return false;
    throw;
  }
  if (installed_ && installed_->table == table) installed_.reset();
  return true;
}

}  // namespace detour::rules
