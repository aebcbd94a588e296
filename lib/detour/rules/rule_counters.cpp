#include "detour/rules/rule_counters.hpp"

#include "detour/rules/nft_batch.hpp"
#include "detour/rules/nftnl_objects.hpp"
#include "detour/rules/render_nft.hpp"

#include <fmt/format.h>
#include <libmnl/libmnl.h>
#include <libnftnl/common.h>

#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <system_error>

namespace detour::rules {
namespace {

using namespace nftnl;

using expr_iter_ptr = std::unique_ptr<nftnl_expr_iter, c_deleter<nftnl_expr_iter, nftnl_expr_iter_destroy>>;

// Dump parts are sized by the receive buffer the kernel has seen us use, up to 32 KiB; a smaller
// buffer would truncate them.
constexpr std::size_t receive_buffer_size = std::size_t{64} * 1024;
// A reply that has not come by then never will; the admin endpoint must not hang on it.
constexpr timeval receive_timeout{2, 0};
// A dump the ruleset changed under is marked interrupted; it is taken again, as nft does.
constexpr int dump_attempts = 3;

std::string comment_of(const nftnl_rule* r) {
  if (!nftnl_rule_is_set(r, NFTNL_RULE_USERDATA)) return {};
  std::uint32_t length = 0;
  const void* data = nftnl_rule_get_data(r, NFTNL_RULE_USERDATA, &length);
  struct text {
    const char* data = nullptr;
    std::size_t length = 0;
  } found;
  nftnl_udata_parse(
      data, length,
      [](const nftnl_udata* attr, void* out) {
        if (nftnl_udata_type(attr) == NFTNL_UDATA_RULE_COMMENT) {
          auto* t = static_cast<text*>(out);
          t->data = static_cast<const char*>(nftnl_udata_get(attr));
          t->length = strnlen(t->data, nftnl_udata_len(attr));
        }
        return 0;
      },
      &found);
  return found.data ? std::string(found.data, found.length) : std::string();
}

// One rule of the dump. libmnl is C: nothing may be thrown through it, so failures go back as
// errno with MNL_CB_ERROR.
int on_rule(const nlmsghdr* nlh, void* data) {
  try {
    auto r = allocate<rule_ptr>(nftnl_rule_alloc);
    if (nftnl_rule_nlmsg_parse(nlh, r.get()) < 0) {
      errno = EPROTO;
      return MNL_CB_ERROR;
    }
    auto it = allocate<expr_iter_ptr>([&] { return nftnl_expr_iter_create(r.get()); });
    while (auto* e = nftnl_expr_iter_next(it.get())) {
      if (std::strcmp(nftnl_expr_get_str(e, NFTNL_EXPR_NAME), "counter") != 0) continue;
      static_cast<std::vector<rule_counter>*>(data)->push_back(
          {nftnl_rule_get_str(r.get(), NFTNL_RULE_CHAIN), comment_of(r.get()),
           nftnl_expr_get_u64(e, NFTNL_EXPR_CTR_PACKETS), nftnl_expr_get_u64(e, NFTNL_EXPR_CTR_BYTES)});
      break;
    }
  } catch (const std::bad_alloc&) {
    errno = ENOMEM;
    return MNL_CB_ERROR;
  }
  return MNL_CB_OK;
}

// Sends one request for `table` and reads the replies until the kernel is done: the ACK of a
// get, the end of a dump. Returns 0 or the errno of the failure.
template <typename Build>
int exchange(mnl_socket* socket, std::uint16_t type, std::uint16_t flags, std::uint32_t seq, Build build,
             mnl_cb_t on_reply, void* data) {
  std::vector<char> buffer(receive_buffer_size);
  auto* nlh = nftnl_nlmsg_build_hdr(buffer.data(), type, NFPROTO_INET, flags, seq);
  build(nlh);
  if (mnl_socket_sendto(socket, nlh, nlh->nlmsg_len) < 0) return errno;
  auto portid = mnl_socket_get_portid(socket);
  for (int ret = MNL_CB_OK; ret > MNL_CB_STOP;) {
    auto n = mnl_socket_recvfrom(socket, buffer.data(), buffer.size());
    if (n < 0) return errno;
    ret = mnl_cb_run(buffer.data(), static_cast<std::size_t>(n), seq, portid, on_reply, data);
    if (ret < 0) return errno;
  }
  return 0;
}

[[noreturn]] void fail(const std::string& what, int e) {
  // Reading needs CAP_NET_ADMIN like writing does; ownership restricts only changes.
  auto kind = e == EPERM ? object_kind::batch : object_kind::table;
  throw rules_error(fmt::format("nftables: cannot {}: {} ({}); likely cause: {}", what,
                                std::generic_category().message(e), errno_name(e), likely_cause(kind, e)),
                    e);
}

}  // namespace

std::vector<rule_counter> read_rule_counters(const std::string& table) {
  for (int attempt = 1;; ++attempt) {
    // A fresh socket per attempt: the rest of an interrupted dump is still queued on the old one.
    auto socket = open_nft_socket();
    ::setsockopt(mnl_socket_get_fd(socket.get()), SOL_SOCKET, SO_RCVTIMEO, &receive_timeout, sizeof receive_timeout);
    auto seq = static_cast<std::uint32_t>(::time(nullptr));

    // A rule dump filtered by a table that does not exist is simply empty, so the table is asked
    // for first: that gives ENOENT.
    auto t = allocate<table_ptr>(nftnl_table_alloc);
    nftnl_table_set_str(t.get(), NFTNL_TABLE_NAME, table.c_str());
    int e = exchange(
        socket.get(), NFT_MSG_GETTABLE, NLM_F_ACK, seq,
        [&](nlmsghdr* nlh) { nftnl_table_nlmsg_build_payload(nlh, t.get()); }, nullptr, nullptr);
    if (e != 0) fail(fmt::format("read table inet {}", table), e);

    auto r = allocate<rule_ptr>(nftnl_rule_alloc);
    nftnl_rule_set_str(r.get(), NFTNL_RULE_TABLE, table.c_str());
    std::vector<rule_counter> out;
    e = exchange(
        socket.get(), NFT_MSG_GETRULE, NLM_F_DUMP, seq + 1,
        [&](nlmsghdr* nlh) { nftnl_rule_nlmsg_build_payload(nlh, r.get()); }, on_rule, &out);
    if (e == 0) return out;
    if (e != EINTR || attempt == dump_attempts) fail(fmt::format("list the rules of table inet {}", table), e);
  }
}

std::string render_with_counters(const rule_plan& plan, const std::vector<rule_counter>& counters) {
  return render_nft(plan, [&](const chain& c, const rule& r) {
    auto it = std::find_if(counters.begin(), counters.end(),
                           [&](const rule_counter& k) { return k.chain == c.name && k.rule == r.name; });
    return it == counters.end() ? std::string("counter")
                                : fmt::format("counter packets {} bytes {}", it->packets, it->bytes);
  });
}

std::string render_with_counters(const config& cfg, const std::vector<rule_counter>& counters) {
  return render_with_counters(make_plan(cfg), counters);
}

}  // namespace detour::rules
