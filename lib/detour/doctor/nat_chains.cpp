#include "detour/doctor/nat_chains.hpp"

#include "detour/doctor/proc_values.hpp"
#include "detour/rules/nft_batch.hpp"
#include "detour/rules/nftnl_objects.hpp"

#include <fmt/format.h>
#include <libmnl/libmnl.h>
#include <libnftnl/common.h>

#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <array>
#include <cerrno>
#include <ctime>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

namespace detour::doctor {
namespace {

// A dump the ruleset changed under comes back marked interrupted (EINTR) and is taken again.
constexpr int dump_attempts = 3;
constexpr timeval reply_timeout{2, 0};
// The kernel sizes dump parts by the receive buffer it has seen us use, up to 32 KiB.
constexpr std::size_t receive_buffer_size = std::size_t{64} * 1024;
// x_tables registers its nat hooks at NF_IP_PRI_NAT_DST.
constexpr int legacy_nat_priority = -100;

std::string family_name(std::uint32_t family) {
  switch (family) {
    case NFPROTO_IPV4:
      return "ip";
    case NFPROTO_IPV6:
      return "ip6";
    case NFPROTO_INET:
      return "inet";
    default:
      return std::to_string(family);
  }
}

// One chain of the dump; libmnl is C, so nothing is thrown through it.
int on_chain(const nlmsghdr* nlh, void* data) {
  auto* c = nftnl_chain_alloc();
  if (c == nullptr) {
    errno = ENOMEM;
    return MNL_CB_ERROR;
  }
  rules::nftnl::chain_ptr owned(c);
  if (nftnl_chain_nlmsg_parse(nlh, c) < 0) {
    errno = EPROTO;
    return MNL_CB_ERROR;
  }
  if (!nftnl_chain_is_set(c, NFTNL_CHAIN_TYPE) || !nftnl_chain_is_set(c, NFTNL_CHAIN_HOOKNUM)) return MNL_CB_OK;
  if (std::string_view(nftnl_chain_get_str(c, NFTNL_CHAIN_TYPE)) != "nat") return MNL_CB_OK;
  auto hooknum = nftnl_chain_get_u32(c, NFTNL_CHAIN_HOOKNUM);
  if (hooknum != NF_INET_LOCAL_OUT && hooknum != NF_INET_PRE_ROUTING) return MNL_CB_OK;
  try {
    static_cast<std::vector<nat_chain>*>(data)->push_back(
        {family_name(nftnl_chain_get_u32(c, NFTNL_CHAIN_FAMILY)), nftnl_chain_get_str(c, NFTNL_CHAIN_TABLE),
         nftnl_chain_get_str(c, NFTNL_CHAIN_NAME),
         hooknum == NF_INET_LOCAL_OUT ? rules::hook::output : rules::hook::prerouting,
         nftnl_chain_get_s32(c, NFTNL_CHAIN_PRIO)});
  } catch (const std::bad_alloc&) {
    errno = ENOMEM;
    return MNL_CB_ERROR;
  }
  return MNL_CB_OK;
}

// One dump of every family's chains; 0 or the errno that ended it.
int dump_chains(std::vector<nat_chain>& out) {
  auto socket = rules::open_nft_socket();
  ::setsockopt(mnl_socket_get_fd(socket.get()), SOL_SOCKET, SO_RCVTIMEO, &reply_timeout, sizeof reply_timeout);
  std::vector<char> buffer(receive_buffer_size);
  auto seq = static_cast<std::uint32_t>(::time(nullptr));
  auto* request = nftnl_nlmsg_build_hdr(buffer.data(), NFT_MSG_GETCHAIN, NFPROTO_UNSPEC, NLM_F_DUMP, seq);
  if (mnl_socket_sendto(socket.get(), request, request->nlmsg_len) < 0) return errno;
  const auto portid = mnl_socket_get_portid(socket.get());
  int ret = MNL_CB_OK;
  while (ret > MNL_CB_STOP) {
    auto received = mnl_socket_recvfrom(socket.get(), buffer.data(), buffer.size());
    if (received < 0) return errno;
    ret = mnl_cb_run(buffer.data(), static_cast<std::size_t>(received), seq, portid, on_chain, &out);
  }
  return ret < 0 ? errno : 0;
}

void add_legacy_tables(std::vector<nat_chain>& out) {
  constexpr std::array<std::pair<const char*, const char*>, 2> legacy_tables{
      {{"/proc/net/ip_tables_names", "ip"}, {"/proc/net/ip6_tables_names", "ip6"}}};
  for (auto [file, family] : legacy_tables) {
    if (!file_lists_word(file, "nat")) continue;
    auto legacy = fmt::format("{} (iptables-legacy)", family);
    out.push_back({legacy, "nat", "OUTPUT", rules::hook::output, legacy_nat_priority});
    out.push_back({legacy, "nat", "PREROUTING", rules::hook::prerouting, legacy_nat_priority});
  }
}

}  // namespace

nat_chain_listing list_nat_chains() {
  nat_chain_listing listing;
  try {
    int e = EINTR;
    for (int attempt = 0; attempt < dump_attempts && e == EINTR; ++attempt) {
      listing.chains.clear();
      e = dump_chains(listing.chains);
    }
    if (e != 0) {
      listing.chains.clear();
      listing.error =
          fmt::format("listing the chains: {} ({})", std::generic_category().message(e), rules::errno_name(e));
      return listing;
    }
  } catch (const rules::rules_error& ex) {
    listing.error = ex.what();
    return listing;
  }
  add_legacy_tables(listing.chains);
  return listing;
}

}  // namespace detour::doctor
