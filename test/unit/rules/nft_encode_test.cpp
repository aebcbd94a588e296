// The netlink encoding of rule plans, checked without a kernel: each plan is encoded into a batch,
// every message is parsed back with libnftnl, and what it says is compared with the plan and with
// the nft text `detourd rules show` prints for it. The decoding below knows nft's expressions on
// its own; it does not reuse the encoder.
#include "detour/rules/nft_encode.hpp"
#include "detour/config/config.hpp"
#include "detour/rules/nftnl_objects.hpp"
#include "detour/rules/render_nft.hpp"
#include "detour/rules/rule_plan.hpp"

#include <fmt/format.h>
#include <libmnl/libmnl.h>
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/nf_nat.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <net/if.h>
#include <netinet/in.h>

#include <cstring>
#include <map>
#include <string>
#include <vector>

using namespace detour::rules;
using detour::net::uint128;

namespace {

// nft's datatype id, key length and key byte order (1 host, 2 big endian) for each set type: what
// `nft list` needs to print the elements.
struct key_spec {
  std::uint32_t type;
  std::uint32_t length;
  std::uint32_t byteorder;
  friend bool operator==(const key_spec&, const key_spec&) = default;
};
const std::map<set_type, key_spec> nft_keys{
    {set_type::ipv4_addr, {7, 4, 2}}, {set_type::ipv6_addr, {8, 16, 2}}, {set_type::inet_service, {13, 2, 2}},
    {set_type::uid, {24, 4, 1}},      {set_type::gid, {25, 4, 1}},       {set_type::ifname, {41, IFNAMSIZ, 1}}};

struct element {
  std::vector<unsigned char> key;
  bool interval_end = false;
};

struct decoded_table {
  std::string name;
  std::uint32_t flags = 0;
};

struct decoded_set {
  std::string table;
  std::string name;
  std::uint32_t id = 0;
  std::uint32_t flags = 0;
  key_spec key{};
  std::vector<element> elements;
  std::size_t element_messages = 0;
};

struct decoded_chain {
  std::string table;
  std::string name;
  std::string type;
  std::uint32_t hook = 0;
  std::int32_t priority = 0;
  std::uint32_t policy = 0;
};

struct decoded_rule {
  std::string table;
  std::string chain;
  std::string text;
  std::string description;
};

struct decoded_batch {
  std::vector<decoded_table> tables;
  std::vector<decoded_set> sets;
  std::vector<decoded_chain> chains;
  std::vector<decoded_rule> rules;

  decoded_set& set(const std::string& name) {
    for (auto& s : sets) {
      if (s.name == name) return s;
    }
    FAIL("elements or a lookup for set " << name << " before the set was created");
    throw std::logic_error("unreachable");
  }
};

std::vector<unsigned char> bytes_of(const void* data, std::uint32_t length) {
  const auto* p = static_cast<const unsigned char*>(data);
  return {p, p + length};
}

std::uint32_t key_byteorder(const nftnl_set* s) {
  std::uint32_t length = 0;
  const void* data = nftnl_set_get_data(s, NFTNL_SET_USERDATA, &length);
  std::uint32_t order = 0;
  REQUIRE(data != nullptr);
  nftnl_udata_parse(
      data, length,
      [](const nftnl_udata* attr, void* out) {
        if (nftnl_udata_type(attr) == NFTNL_UDATA_SET_KEYBYTEORDER)
          *static_cast<std::uint32_t*>(out) = nftnl_udata_get_u32(attr);
        return 0;
      },
      &order);
  return order;
}

// Turns a rule's expressions back into nft syntax, knowing only what nft's expressions mean.
class rule_reader {
 public:
  rule_reader(nftnl_rule* r, decoded_batch& batch) : batch_(batch), comment_(comment_of(r)) {
    nftnl_expr_foreach(
        r,
        [](nftnl_expr* e, void* out) {
          static_cast<std::vector<nftnl_expr*>*>(out)->push_back(e);
          return 0;
        },
        &exprs_);
  }

  std::string text() {
    std::vector<std::string> words;
    while (pos_ < exprs_.size()) {
      auto* e = next();
      if (name(e) == "counter") {
        // Right before the verdict, as nft places it, starting from zero.
        CHECK_FALSE(nftnl_expr_is_set(e, NFTNL_EXPR_CTR_PACKETS));
        CHECK_FALSE(nftnl_expr_is_set(e, NFTNL_EXPR_CTR_BYTES));
        REQUIRE(pos_ < exprs_.size());
        CHECK((name(exprs_[pos_]) == "immediate" || name(exprs_[pos_]) == "reject"));
        words.emplace_back("counter");
        continue;
      }
      if (name(e) == "immediate" || name(e) == "reject") {
        words.push_back(name(e) == "reject" ? rejection(e) : verdict(e));
        CHECK(pos_ == exprs_.size());
        break;
      }
      if (name(e) == "ct") {
        words.push_back(conntrack(e));
        continue;
      }
      REQUIRE(name(e) == "meta");
      CHECK(nftnl_expr_get_u32(e, NFTNL_EXPR_META_DREG) == NFT_REG_1);
      words.push_back(selector(nftnl_expr_get_u32(e, NFTNL_EXPR_META_KEY)));
    }
    if (!comment_.empty()) words.push_back(fmt::format("comment \"{}\"", comment_));
    return fmt::format("{}", fmt::join(words, " "));
  }

 private:
  // The rule's user data as nft writes it: one NUL-terminated comment attribute.
  static std::string comment_of(const nftnl_rule* r) {
    if (!nftnl_rule_is_set(r, NFTNL_RULE_USERDATA)) return {};
    std::uint32_t length = 0;
    const void* data = nftnl_rule_get_data(r, NFTNL_RULE_USERDATA, &length);
    std::vector<std::string> comments;
    CHECK(nftnl_udata_parse(
              data, length,
              [](const nftnl_udata* attr, void* out) {
                CHECK(nftnl_udata_type(attr) == NFTNL_UDATA_RULE_COMMENT);
                const auto* text = static_cast<const char*>(nftnl_udata_get(attr));
                CHECK(nftnl_udata_len(attr) > 0);
                CHECK(text[nftnl_udata_len(attr) - 1] == '\0');
                static_cast<std::vector<std::string>*>(out)->emplace_back(text);
                return 0;
              },
              &comments) == 0);
    REQUIRE(comments.size() == 1);
    return comments.front();
  }

  static std::string name(nftnl_expr* e) { return nftnl_expr_get_str(e, NFTNL_EXPR_NAME); }

  nftnl_expr* next() {
    REQUIRE(pos_ < exprs_.size());
    return exprs_[pos_++];
  }

  bool ahead(const char* first, const char* second) const {
    return pos_ + 1 < exprs_.size() && name(exprs_[pos_]) == first && name(exprs_[pos_ + 1]) == second;
  }

  std::vector<unsigned char> compared(nftnl_expr* cmp, bool& negated) const {
    CHECK(nftnl_expr_get_u32(cmp, NFTNL_EXPR_CMP_SREG) == NFT_REG_1);
    auto op = nftnl_expr_get_u32(cmp, NFTNL_EXPR_CMP_OP);
    REQUIRE((op == NFT_CMP_EQ || op == NFT_CMP_NEQ));
    negated = op == NFT_CMP_NEQ;
    std::uint32_t length = 0;
    const void* data = nftnl_expr_get(cmp, NFTNL_EXPR_CMP_DATA, &length);
    return bytes_of(data, length);
  }

  // A meta load followed by a compare with `value` and a payload load: the guard before a header
  // field. Returns the payload's (offset, length) in the header `base`.
  std::pair<std::uint32_t, std::uint32_t> guarded_payload(std::uint8_t value, std::uint32_t base) {
    bool negated = true;
    CHECK(compared(next(), negated) == std::vector<unsigned char>{value});
    CHECK_FALSE(negated);
    auto* p = next();
    CHECK(nftnl_expr_get_u32(p, NFTNL_EXPR_PAYLOAD_BASE) == base);
    CHECK(nftnl_expr_get_u32(p, NFTNL_EXPR_PAYLOAD_DREG) == NFT_REG_1);
    return {nftnl_expr_get_u32(p, NFTNL_EXPR_PAYLOAD_OFFSET), nftnl_expr_get_u32(p, NFTNL_EXPR_PAYLOAD_LEN)};
  }

  std::string selector(std::uint32_t key) {
    if (key == NFT_META_NFPROTO && ahead("cmp", "payload")) {
      bool negated = false;
      auto family = compared(exprs_[pos_], negated);  // peeked: guarded_payload reads it again
      REQUIRE(family.size() == 1);
      REQUIRE((family[0] == NFPROTO_IPV4 || family[0] == NFPROTO_IPV6));
      auto [offset, length] = guarded_payload(family[0], NFT_PAYLOAD_NETWORK_HEADER);
      const std::map<std::pair<std::uint32_t, std::uint32_t>, std::string> fields{
          {{12, 4}, "ip saddr"}, {{16, 4}, "ip daddr"}, {{8, 16}, "ip6 saddr"}, {{24, 16}, "ip6 daddr"}};
      auto field = fields.at({offset, length});
      CHECK(field.starts_with(family[0] == NFPROTO_IPV4 ? "ip " : "ip6 "));
      return field + operand(value_kind::none);
    }
    if (key == NFT_META_L4PROTO && ahead("cmp", "payload")) {
      auto [offset, length] = guarded_payload(IPPROTO_TCP, NFT_PAYLOAD_TRANSPORT_HEADER);
      CHECK(offset == 2);
      CHECK(length == 2);
      return "tcp dport" + operand(value_kind::port);
    }
    const std::map<std::uint32_t, std::pair<std::string, value_kind>> metas{
        {NFT_META_NFPROTO, {"meta nfproto", value_kind::nfproto}},
        {NFT_META_L4PROTO, {"meta l4proto", value_kind::l4proto}},
        {NFT_META_MARK, {"meta mark", value_kind::mark}},
        {NFT_META_SKUID, {"meta skuid", value_kind::id}},
        {NFT_META_SKGID, {"meta skgid", value_kind::id}},
        {NFT_META_IIFNAME, {"iifname", value_kind::none}},
        {NFT_META_OIFNAME, {"oifname", value_kind::none}}};
    const auto& [text, kind] = metas.at(key);
    return text + operand(kind);
  }

  enum class value_kind { none, nfproto, l4proto, port, mark, id };

  // " @set", " != @set", " 443", " != tcp"...
  std::string operand(value_kind kind) {
    auto* e = next();
    if (name(e) == "lookup") {
      CHECK(nftnl_expr_get_u32(e, NFTNL_EXPR_LOOKUP_SREG) == NFT_REG_1);
      std::string set = nftnl_expr_get_str(e, NFTNL_EXPR_LOOKUP_SET);
      CHECK(nftnl_expr_get_u32(e, NFTNL_EXPR_LOOKUP_SET_ID) == batch_.set(set).id);
      bool negated = nftnl_expr_is_set(e, NFTNL_EXPR_LOOKUP_FLAGS) &&
                     nftnl_expr_get_u32(e, NFTNL_EXPR_LOOKUP_FLAGS) == NFT_LOOKUP_F_INV;
      return (negated ? " != @" : " @") + set;
    }
    REQUIRE(name(e) == "cmp");
    bool negated = false;
    auto data = compared(e, negated);
    return (negated ? " != " : " ") + value_text(kind, data);
  }

  static std::string value_text(value_kind kind, const std::vector<unsigned char>& data) {
    switch (kind) {
      case value_kind::nfproto:
        REQUIRE(data.size() == 1);
        return data[0] == NFPROTO_IPV4 ? "ipv4" : data[0] == NFPROTO_IPV6 ? "ipv6" : std::to_string(data[0]);
      case value_kind::l4proto:
        REQUIRE(data.size() == 1);
        return data[0] == IPPROTO_TCP ? "tcp" : std::to_string(data[0]);
      case value_kind::port: {
        REQUIRE(data.size() == 2);
        return std::to_string(data[0] << 8 | data[1]);  // network byte order
      }
      case value_kind::mark:
      case value_kind::id: {
        REQUIRE(data.size() == 4);
        std::uint32_t v = 0;  // the kernel's registers hold these in host byte order
        std::memcpy(&v, data.data(), 4);
        return kind == value_kind::mark ? fmt::format("0x{:08x}", v) : std::to_string(v);
      }
      case value_kind::none:
        break;
    }
    FAIL("a compare where nft expects a set lookup");
    return {};
  }

  // `ct state new`, `ct status dnat`: the load, a mask with nothing xored, and "not zero".
  std::string conntrack(nftnl_expr* ct) {
    CHECK(nftnl_expr_get_u32(ct, NFTNL_EXPR_CT_DREG) == NFT_REG_1);
    auto key = nftnl_expr_get_u32(ct, NFTNL_EXPR_CT_KEY);
    REQUIRE((key == NFT_CT_STATE || key == NFT_CT_STATUS));
    auto* mask = next();
    REQUIRE(name(mask) == "bitwise");
    CHECK(nftnl_expr_get_u32(mask, NFTNL_EXPR_BITWISE_SREG) == NFT_REG_1);
    CHECK(nftnl_expr_get_u32(mask, NFTNL_EXPR_BITWISE_DREG) == NFT_REG_1);
    CHECK(nftnl_expr_get_u32(mask, NFTNL_EXPR_BITWISE_LEN) == 4);
    auto attribute = [&](std::uint16_t type) {
      std::uint32_t length = 0;
      const void* data = nftnl_expr_get(mask, type, &length);
      return bytes_of(data, length);
    };
    auto bits = attribute(NFTNL_EXPR_BITWISE_MASK);
    CHECK(attribute(NFTNL_EXPR_BITWISE_XOR) == std::vector<unsigned char>(4));
    auto* cmp = next();
    REQUIRE(name(cmp) == "cmp");
    bool negated = false;
    CHECK(compared(cmp, negated) == std::vector<unsigned char>(4));
    REQUIRE(bits.size() == 4);
    std::uint32_t value = 0;  // host byte order, as conntrack keeps them
    std::memcpy(&value, bits.data(), 4);
    // "not equal to zero" is the match; "equal to zero" its negation.
    std::string op = negated ? " " : " != ";
    if (key == NFT_CT_STATE) {
      CHECK(value == NF_CT_STATE_BIT(IP_CT_NEW));
      return "ct state" + op + "new";
    }
    CHECK(value == IPS_DST_NAT);
    return "ct status" + op + "dnat";
  }

  static std::string rejection(nftnl_expr* e) {
    CHECK(nftnl_expr_get_u32(e, NFTNL_EXPR_REJECT_TYPE) == NFT_REJECT_TCP_RST);
    CHECK(nftnl_expr_get_u8(e, NFTNL_EXPR_REJECT_CODE) == 0);
    return "reject with tcp reset";
  }

  std::string verdict(nftnl_expr* e) {
    if (nftnl_expr_get_u32(e, NFTNL_EXPR_IMM_DREG) == NFT_REG_VERDICT) {
      auto code = static_cast<std::int32_t>(nftnl_expr_get_u32(e, NFTNL_EXPR_IMM_VERDICT));
      REQUIRE((code == NFT_RETURN || code == NF_ACCEPT));
      return code == NF_ACCEPT ? "accept" : "return";
    }
    CHECK(nftnl_expr_get_u32(e, NFTNL_EXPR_IMM_DREG) == NFT_REG_1);
    std::uint32_t length = 0;
    const void* data = nftnl_expr_get(e, NFTNL_EXPR_IMM_DATA, &length);
    auto port = bytes_of(data, length);
    REQUIRE(port.size() == 2);
    auto* redir = next();
    REQUIRE(name(redir) == "redir");
    CHECK(nftnl_expr_get_u32(redir, NFTNL_EXPR_REDIR_REG_PROTO_MIN) == NFT_REG_1);
    // Without PROTO_SPECIFIED the kernel ignores the port register.
    CHECK(nftnl_expr_get_u32(redir, NFTNL_EXPR_REDIR_FLAGS) == NF_NAT_RANGE_PROTO_SPECIFIED);
    return fmt::format("redirect to :{}", port[0] << 8 | port[1]);
  }

  decoded_batch& batch_;
  std::string comment_;
  std::vector<nftnl_expr*> exprs_;
  std::size_t pos_ = 0;
};

void decode_table(const nlmsghdr* nlh, decoded_batch& out) {
  auto t = nftnl::allocate<nftnl::table_ptr>(nftnl_table_alloc);
  REQUIRE(nftnl_table_nlmsg_parse(nlh, t.get()) == 0);
  out.tables.push_back(
      {nftnl_table_get_str(t.get(), NFTNL_TABLE_NAME), nftnl_table_get_u32(t.get(), NFTNL_TABLE_FLAGS)});
}

void decode_set(const nlmsghdr* nlh, decoded_batch& out) {
  auto s = nftnl::allocate<nftnl::set_ptr>(nftnl_set_alloc);
  REQUIRE(nftnl_set_nlmsg_parse(nlh, s.get()) == 0);
  decoded_set d;
  d.table = nftnl_set_get_str(s.get(), NFTNL_SET_TABLE);
  d.name = nftnl_set_get_str(s.get(), NFTNL_SET_NAME);
  d.id = nftnl_set_get_u32(s.get(), NFTNL_SET_ID);
  d.flags = nftnl_set_get_u32(s.get(), NFTNL_SET_FLAGS);
  d.key = {nftnl_set_get_u32(s.get(), NFTNL_SET_KEY_TYPE), nftnl_set_get_u32(s.get(), NFTNL_SET_KEY_LEN),
           key_byteorder(s.get())};
  out.sets.push_back(std::move(d));
}

// libnftnl numbers the entries of the element list 1, 2, 3... when it builds a message, while its
// parser accepts only NFTA_LIST_ELEM (1), the type the kernel uses in its replies; the kernel does
// not look at the entries' type. Renumbered, the message can be parsed with libnftnl. The list's
// 16-bit length must cover every entry up to the end of the message: past 64 KiB it would wrap, and
// the kernel would keep only the elements inside the wrapped length.
void renumber_element_list(nlmsghdr* nlh) {
  const auto* tail = static_cast<const char*>(mnl_nlmsg_get_payload_tail(nlh));
  auto left = [](const void* end, const nlattr* a) {
    return static_cast<int>(static_cast<const char*>(end) - reinterpret_cast<const char*>(a));
  };
  for (auto* list = static_cast<nlattr*>(mnl_nlmsg_get_payload_offset(nlh, sizeof(nfgenmsg)));
       mnl_attr_ok(list, left(tail, list)); list = mnl_attr_next(list)) {
    if (mnl_attr_get_type(list) != NFTA_SET_ELEM_LIST_ELEMENTS) continue;
    const auto* end = reinterpret_cast<const char*>(list) + list->nla_len;
    CHECK(reinterpret_cast<const char*>(list) + NLA_ALIGN(list->nla_len) == tail);
    for (auto* entry = static_cast<nlattr*>(mnl_attr_get_payload(list)); mnl_attr_ok(entry, left(end, entry));
         entry = mnl_attr_next(entry)) {
      entry->nla_type = NLA_F_NESTED | NFTA_LIST_ELEM;
    }
  }
}

void decode_elements(nlmsghdr* nlh, decoded_batch& out) {
  renumber_element_list(nlh);
  auto s = nftnl::allocate<nftnl::set_ptr>(nftnl_set_alloc);
  REQUIRE(nftnl_set_elems_nlmsg_parse(nlh, s.get()) == 0);
  auto& d = out.set(nftnl_set_get_str(s.get(), NFTNL_SET_NAME));
  CHECK(nftnl_set_get_str(s.get(), NFTNL_SET_TABLE) == d.table);
  CHECK(nftnl_set_get_u32(s.get(), NFTNL_SET_ID) == d.id);
  ++d.element_messages;
  auto it = nftnl::allocate<nftnl::iter_ptr>([&] { return nftnl_set_elems_iter_create(s.get()); });
  while (auto* e = nftnl_set_elems_iter_next(it.get())) {
    std::uint32_t length = 0;
    const void* key = nftnl_set_elem_get(e, NFTNL_SET_ELEM_KEY, &length);
    bool end = nftnl_set_elem_is_set(e, NFTNL_SET_ELEM_FLAGS) &&
               (nftnl_set_elem_get_u32(e, NFTNL_SET_ELEM_FLAGS) & NFT_SET_ELEM_INTERVAL_END) != 0;
    d.elements.push_back({bytes_of(key, length), end});
  }
}

void decode_chain(const nlmsghdr* nlh, decoded_batch& out) {
  auto c = nftnl::allocate<nftnl::chain_ptr>(nftnl_chain_alloc);
  REQUIRE(nftnl_chain_nlmsg_parse(nlh, c.get()) == 0);
  out.chains.push_back(
      {nftnl_chain_get_str(c.get(), NFTNL_CHAIN_TABLE), nftnl_chain_get_str(c.get(), NFTNL_CHAIN_NAME),
       nftnl_chain_get_str(c.get(), NFTNL_CHAIN_TYPE), nftnl_chain_get_u32(c.get(), NFTNL_CHAIN_HOOKNUM),
       nftnl_chain_get_s32(c.get(), NFTNL_CHAIN_PRIO), nftnl_chain_get_u32(c.get(), NFTNL_CHAIN_POLICY)});
}

void decode_rule(const nlmsghdr* nlh, const std::string& description, decoded_batch& out) {
  auto r = nftnl::allocate<nftnl::rule_ptr>(nftnl_rule_alloc);
  REQUIRE(nftnl_rule_nlmsg_parse(nlh, r.get()) == 0);
  CHECK((nlh->nlmsg_flags & NLM_F_APPEND) != 0);
  std::string chain = nftnl_rule_get_str(r.get(), NFTNL_RULE_CHAIN);
  bool chain_known = false;
  for (const auto& c : out.chains) chain_known = chain_known || c.name == chain;
  CHECK(chain_known);
  out.rules.push_back(
      {nftnl_rule_get_str(r.get(), NFTNL_RULE_TABLE), chain, rule_reader(r.get(), out).text(), description});
}

// Walks the batch from its BATCH_BEGIN: every message must be one nf_tables message for the inet
// family, asking for an ACK, with a description for its seq.
decoded_batch decode(const nft_batch& b) {
  std::vector<char> buffer(b.data(), b.data() + b.size());
  decoded_batch out;
  int remaining = static_cast<int>(buffer.size());
  auto* nlh = reinterpret_cast<nlmsghdr*>(buffer.data());
  REQUIRE(mnl_nlmsg_ok(nlh, remaining));
  CHECK(nlh->nlmsg_type == NFNL_MSG_BATCH_BEGIN);
  for (nlh = mnl_nlmsg_next(nlh, &remaining); mnl_nlmsg_ok(nlh, remaining); nlh = mnl_nlmsg_next(nlh, &remaining)) {
    REQUIRE(NFNL_SUBSYS_ID(nlh->nlmsg_type) == NFNL_SUBSYS_NFTABLES);
    CHECK((nlh->nlmsg_flags & NLM_F_ACK) != 0);
    // Room too for the element that libnftnl writes past the end of a full element list and drops.
    CHECK(nlh->nlmsg_len + 1024 <= nft_batch::message_headroom);
    CHECK(static_cast<const nfgenmsg*>(mnl_nlmsg_get_payload(nlh))->nfgen_family == NFPROTO_INET);
    const auto* request = b.find(nlh->nlmsg_seq);
    REQUIRE(request != nullptr);
    switch (NFNL_MSG_TYPE(nlh->nlmsg_type)) {
      case NFT_MSG_NEWTABLE:
        decode_table(nlh, out);
        break;
      case NFT_MSG_NEWSET:
        decode_set(nlh, out);
        break;
      case NFT_MSG_NEWSETELEM:
        decode_elements(nlh, out);
        break;
      case NFT_MSG_NEWCHAIN:
        decode_chain(nlh, out);
        break;
      case NFT_MSG_NEWRULE:
        decode_rule(nlh, request->what, out);
        break;
      default:
        FAIL("unexpected message type " << NFNL_MSG_TYPE(nlh->nlmsg_type));
    }
  }
  CHECK(remaining == 0);
  return out;
}

uint128 key_value(const std::vector<unsigned char>& key) {
  uint128 v = 0;
  for (auto byte : key) v = v << 8 | byte;
  return v;
}

// An address interval [first, last] as the prefix it must be: last - first is all ones below some
// bit, and first has none of those bits.
std::string prefix_text(const std::vector<unsigned char>& first, uint128 last) {
  auto host = last - key_value(first);
  REQUIRE((host & (host + 1)) == 0);
  REQUIRE((key_value(first) & host) == 0);
  unsigned host_bits = 0;
  for (; host != 0; host >>= 1) ++host_bits;
  std::string address;
  if (first.size() == 4) {
    address = boost::asio::ip::address_v4({first[0], first[1], first[2], first[3]}).to_string();
  } else {
    REQUIRE(first.size() == 16);
    boost::asio::ip::address_v6::bytes_type bytes{};
    std::memcpy(bytes.data(), first.data(), 16);
    address = boost::asio::ip::address_v6(bytes).to_string();
  }
  return fmt::format("{}/{}", address, first.size() * 8 - host_bits);
}

// The elements as the plan's texts: "10.0.0.0/8", "80-81", "1000", "eth0". An interval is a start
// element followed by an end element holding the first key after it; a start with no end runs to
// the top of the key space.
std::vector<std::string> element_texts(const decoded_set& s) {
  std::vector<std::string> out;
  for (std::size_t i = 0; i < s.elements.size(); ++i) {
    const auto& key = s.elements[i].key;
    REQUIRE_FALSE(s.elements[i].interval_end);
    if (s.key.type == nft_keys.at(set_type::ifname).type) {
      out.emplace_back(reinterpret_cast<const char*>(key.data()),
                       strnlen(reinterpret_cast<const char*>(key.data()), key.size()));
      continue;
    }
    if (s.key.byteorder == 1) {
      std::uint32_t id = 0;
      REQUIRE(key.size() == 4);
      std::memcpy(&id, key.data(), 4);
      out.push_back(std::to_string(id));
      continue;
    }
    uint128 top = key.size() == 16 ? ~uint128{0} : (uint128{1} << (key.size() * 8)) - 1;
    uint128 last = top;
    if (i + 1 < s.elements.size() && s.elements[i + 1].interval_end) last = key_value(s.elements[++i].key) - 1;
    if (s.key.type == nft_keys.at(set_type::inet_service).type) {
      auto first = static_cast<unsigned>(key_value(key));
      out.push_back(first == last ? std::to_string(first) : fmt::format("{}-{}", first, static_cast<unsigned>(last)));
    } else {
      out.push_back(prefix_text(key, last));
    }
  }
  return out;
}

std::vector<std::string> plan_texts(const set_decl& s) {
  std::vector<std::string> out;
  for (const auto& c : s.prefixes) out.push_back(c.to_string());
  for (const auto& p : s.ports) out.push_back(p.to_string());
  for (auto id : s.ids) out.push_back(std::to_string(id));
  for (const auto& name : s.interfaces) out.push_back(name);
  return out;
}

decoded_batch encoded(const rule_plan& plan) {
  std::uint32_t seq = 1;
  nft_batch b(seq);
  add_contents(b, plan);
  return decode(b);
}

void check_encodes(const rule_plan& plan) {
  auto d = encoded(plan);
  CHECK(d.tables.empty());

  REQUIRE(d.sets.size() == plan.sets.size());
  for (std::size_t i = 0; i < plan.sets.size(); ++i) {
    const auto& s = plan.sets[i];
    INFO("set " << s.name);
    CHECK(d.sets[i].table == plan.table);
    CHECK(d.sets[i].name == s.name);
    CHECK(d.sets[i].id == i + 1);
    CHECK(d.sets[i].flags == (s.is_interval() ? static_cast<std::uint32_t>(NFT_SET_INTERVAL) : 0U));
    CHECK(d.sets[i].key == nft_keys.at(s.type));
    CHECK(element_texts(d.sets[i]) == plan_texts(s));
  }

  REQUIRE(d.chains.size() == plan.chains.size());
  std::vector<std::pair<const chain*, const rule*>> rules;
  for (std::size_t i = 0; i < plan.chains.size(); ++i) {
    const auto& c = plan.chains[i];
    CHECK(d.chains[i].table == plan.table);
    CHECK(d.chains[i].name == c.name);
    const std::map<hook, std::uint32_t> hooks{{hook::output, NF_INET_LOCAL_OUT},
                                              {hook::prerouting, NF_INET_PRE_ROUTING},
                                              {hook::input, NF_INET_LOCAL_IN},
                                              {hook::forward, NF_INET_FORWARD}};
    CHECK(d.chains[i].type == (c.type == chain_type::nat ? "nat" : "filter"));
    CHECK(d.chains[i].hook == hooks.at(c.where));
    CHECK(d.chains[i].priority == c.priority);
    CHECK(d.chains[i].policy == NF_ACCEPT);
    for (const auto& r : c.rules) rules.emplace_back(&c, &r);
  }

  REQUIRE(d.rules.size() == rules.size());
  for (std::size_t i = 0; i < rules.size(); ++i) {
    auto text = render_rule(*rules[i].second);
    CHECK(d.rules[i].table == plan.table);
    CHECK(d.rules[i].chain == rules[i].first->name);
    CHECK(d.rules[i].text == text);
    CHECK_THAT(d.rules[i].description, Catch::Contains("`" + text + "`"));
  }
}

rule_plan plan_of(std::string_view yaml) { return make_plan(detour::parse_config(yaml, "test.yaml"), 4242); }

}  // namespace

TEST_CASE("the default config's plan parses back from its messages as the sets, chains and rules it renders",
          "[rules]") {
  check_encodes(make_plan(detour::config{}, 4242));
}

TEST_CASE("every capture option encodes to the expressions nft prints as its rule", "[rules]") {
  SECTION("every outbound option") {
    check_encodes(plan_of(R"(
port: 3128
mark: 42
intercept:
  priority: -110
  exclude_self_uid: true
  outbound:
    ports: ["443", "80", "8000-8080"]
    exclude_ports: ["8001", "60000-65535"]
    destinations: [10.0.0.0/8, 192.0.2.0/25, "2001:db8::/32"]
    exclude_destinations: [10.9.0.0/16, "fd00::1", 203.0.113.7]
    uids: [1000, 33]
    exclude_uids: [0]
    gids: [100]
    exclude_gids: [5, 4]
    exclude_interfaces: [docker0, br-1]
upstreams:
  corp: {kind: socks5, servers: ["192.0.2.200:1080", "[2001:db8::9]:1080"]}
)"));
  }
  SECTION("one family's destinations only") {
    check_encodes(plan_of("intercept: {outbound: {destinations: [\"2001:db8::/32\"]}}\n"));
  }
  SECTION("inbound only") {
    check_encodes(plan_of(R"(
intercept:
  priority: -150
  outbound: {enabled: false}
  inbound:
    enabled: true
    interfaces: [eth1, wg0]
    sources: [10.0.0.0/8, "2001:db8::/48"]
    exclude_sources: [10.1.2.3, "2001:db8::1"]
    ports: ["1-1023", "65535"]
    exclude_ports: ["22"]
    destinations: ["0.0.0.0/0"]
    exclude_destinations: ["fe80::/10", "::/0"]
)"));
  }
  SECTION("outbound and inbound") {
    check_encodes(plan_of(R"(
intercept:
  outbound: {exclude_ports: ["22"], exclude_uids: [0]}
  inbound: {enabled: true, exclude_sources: ["10.0.0.0/8"], ports: ["1-1023"]}
)"));
  }
  SECTION("the set names of a replace generation") {
    auto plan = with_generation(plan_of("intercept: {outbound: {ports: [\"443\"]}}\n"), 3);
    REQUIRE(plan.find_set("out_ports_g3") != nullptr);
    check_encodes(plan);
  }
}

TEST_CASE("the guard's filter chains encode to the conntrack matches and reset nft prints", "[rules]") {
  SECTION("outbound") {
    check_encodes(make_guard_plan(detour::parse_config("intercept: {on_failure: closed}\n", "t.yaml"), 0));
  }
  SECTION("inbound and outbound, every option") {
    check_encodes(make_guard_plan(detour::parse_config(R"(
intercept:
  on_failure: closed
  exclude_self_uid: true
  outbound: {exclude_ports: ["22"], exclude_uids: [0], destinations: [10.0.0.0/8]}
  inbound: {enabled: true, interfaces: [eth1], exclude_sources: ["10.0.0.0/8"], ports: ["1-1023"]}
)",
                                                       "t.yaml"),
                                  0));
  }
}

TEST_CASE("thousands of set elements go out in several messages that hold every one of them", "[rules]") {
  detour::config cfg;
  for (unsigned i = 0; i < 3000; ++i) {
    // Every other /24, so that merging keeps them apart.
    auto text = fmt::format("10.{}.{}.0/24", i / 128, i % 128 * 2);
    cfg.intercept.outbound.exclude_destinations.push_back(*detour::net::parse_cidr(text));
  }
  auto plan = make_plan(cfg, 0);
  const auto* set = plan.find_set("out_exclude_destinations4");
  REQUIRE(set != nullptr);
  REQUIRE(set->prefixes.size() > 3000);
  check_encodes(plan);
  auto d = encoded(plan);
  CHECK(d.set(set->name).element_messages > 1);
}

TEST_CASE("a table carries the owner flag exactly when it is owned", "[rules]") {
  std::uint32_t seq = 1;
  nft_batch b(seq);
  create_table(b, "detour", ownership::owner);
  create_table(b, "plain", ownership::none);
  update_table(b, "detour", ownership::owner);
  auto d = decode(b);
  REQUIRE(d.tables.size() == 3);
  CHECK(d.tables[0].name == "detour");
  CHECK(d.tables[0].flags == NFT_TABLE_F_OWNER);
  CHECK(d.tables[1].name == "plain");
  CHECK(d.tables[1].flags == 0);
  CHECK(d.tables[2].flags == NFT_TABLE_F_OWNER);
}

TEST_CASE("every rule goes out with a counter before its verdict and its name as comment", "[rules]") {
  auto plan = plan_of("intercept: {outbound: {exclude_ports: [\"22\"]}, inbound: {enabled: true}}\n");
  auto d = encoded(plan);
  std::size_t i = 0;
  for (const auto& c : plan.chains) {
    for (const auto& r : c.rules) {
      REQUIRE(i < d.rules.size());
      const auto& text = d.rules[i++].text;
      CHECK_THAT(text, Catch::EndsWith(fmt::format("comment \"{}\"", r.name)));
      CHECK_THAT(text, Catch::Contains(" counter return ") || Catch::Contains(" counter redirect to :"));
    }
  }
  CHECK(i == d.rules.size());
  // The output chain's 7 with its self_test rule, and the prerouting chain's 6.
  CHECK(i == 13);
}
