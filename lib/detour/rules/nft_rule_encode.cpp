#include "detour/rules/nft_rule_encode.hpp"

#include "detour/rules/nftnl_objects.hpp"

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

using namespace nftnl;

rule_ptr rule_object(const std::string& table, const std::string& chain_name) {
  auto r = allocate<rule_ptr>(nftnl_rule_alloc);
  nftnl_rule_set_str(r.get(), NFTNL_RULE_TABLE, table.c_str());
  nftnl_rule_set_str(r.get(), NFTNL_RULE_CHAIN, chain_name.c_str());
  nftnl_rule_set_u32(r.get(), NFTNL_RULE_FAMILY, nft_family);
  return r;
}

namespace {

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

  rule_ptr release() { return std::move(rule_); }

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

}  // namespace

rule_ptr encode_rule(const rule_plan& plan, const std::string& chain_name, const rule& r) {
  rule_encoder enc(chain_name, plan);
  enc.encode(r);
  return enc.release();
}

}  // namespace detour::rules
