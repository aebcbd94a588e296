#include "detour/rules/nft_batch.hpp"

#include <fmt/format.h>
#include <libmnl/libmnl.h>
#include <libnftnl/common.h>

#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <system_error>

// Missing from the 6.1 UAPI headers this builds against.
#ifndef NLM_F_ACK_TLVS
#define NLM_F_ACK_TLVS 0x200
#endif

namespace detour::rules {

std::string errno_name(int e) {
  switch (e) {
    case EPERM:
      return "EPERM";
    case ENOENT:
      return "ENOENT";
    case EEXIST:
      return "EEXIST";
    case EINVAL:
      return "EINVAL";
    case EBUSY:
      return "EBUSY";
    case ENOMEM:
      return "ENOMEM";
    case ENOBUFS:
      return "ENOBUFS";
    case EMSGSIZE:
      return "EMSGSIZE";
    case EOPNOTSUPP:
      return "EOPNOTSUPP";
    case ERANGE:
      return "ERANGE";
    case E2BIG:
      return "E2BIG";
    case ENOSPC:
      return "ENOSPC";
    case EAFNOSUPPORT:
      return "EAFNOSUPPORT";
    default:
      return fmt::format("errno {}", e);
  }
}

std::string likely_cause(object_kind kind, int e) {
  if (kind == object_kind::batch) {
    if (e == EPERM)
      return "this process lacks CAP_NET_ADMIN in its network namespace (run as root or grant the capability)";
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
    case EEXIST:
      return "it already exists, or set elements overlap";
    case EBUSY:
      return "it is still in use";
    case EINVAL:
      return "the kernel did not accept its attributes (a kernel older than this program expects?)";
    case ENOMEM:
    case ENOBUFS:
    case EMSGSIZE:
    case E2BIG:
    case ENOSPC:
      return "the ruleset is too large for the kernel's limits";
    default:
      return "unknown";
  }
}

namespace {

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

struct replies {
  std::vector<reply_error> errors;
  std::size_t acks = 0;
  bool overrun = false;
};

// nfnetlink handles the whole batch inside sendmsg(), so every reply is queued by now: drain with
// a zero timeout rather than wait for an ACK that an error on BATCH_BEGIN would never send.
replies drain_replies(int fd) {
  replies out;
  std::vector<char> buffer(static_cast<std::size_t>(MNL_SOCKET_BUFFER_SIZE) * 4);
  for (;;) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 0) <= 0) break;
    auto n = ::recv(fd, buffer.data(), buffer.size(), 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == ENOBUFS) out.overrun = true;
      break;
    }
    auto remaining = static_cast<int>(n);
    for (auto* nlh = reinterpret_cast<nlmsghdr*>(buffer.data()); mnl_nlmsg_ok(nlh, remaining);
         nlh = mnl_nlmsg_next(nlh, &remaining)) {
      if (nlh->nlmsg_type != NLMSG_ERROR) continue;
      const auto* err = static_cast<const nlmsgerr*>(mnl_nlmsg_get_payload(nlh));
      if (err->error == 0) {
        ++out.acks;
      } else {
        out.errors.push_back({nlh->nlmsg_seq, -err->error, extack_message(nlh)});
      }
    }
  }
  return out;
}

}  // namespace

nft_socket open_nft_socket() {
  nft_socket socket(mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC), mnl_socket_close);
  if (!socket) {
    throw rules_error(fmt::format("nftables: cannot open a netfilter netlink socket: {}; likely cause: the kernel "
                                  "has no nfnetlink (CONFIG_NETFILTER_NETLINK)",
                                  std::generic_category().message(errno)),
                      errno);
  }
  int one = 1;
  // Extended ACKs may name the attribute at fault; CAP_ACK keeps a failed 8 KiB request from being
  // echoed back in full.
  mnl_socket_setsockopt(socket.get(), NETLINK_EXT_ACK, &one, sizeof one);
  mnl_socket_setsockopt(socket.get(), NETLINK_CAP_ACK, &one, sizeof one);
  if (mnl_socket_bind(socket.get(), 0, MNL_SOCKET_AUTOPID) < 0) {
    throw rules_error(
        fmt::format("nftables: cannot bind the netlink socket: {}", std::generic_category().message(errno)), errno);
  }
  return socket;
}

nft_batch::nft_batch(std::uint32_t& seq) : seq_(seq) {
  auto begin = seq_++;
  nftnl_batch_begin(reserve(), begin);
  close_message();
  requests_[begin] = {object_kind::batch, "start the batch"};
}

nlmsghdr* nft_batch::open_message(std::uint16_t type, std::uint16_t flags, object_kind kind, std::string what) {
  auto seq = seq_++;
  auto* nlh = nftnl_nlmsg_build_hdr(reserve(), type, NFPROTO_INET, static_cast<std::uint16_t>(flags | NLM_F_ACK), seq);
  requests_[seq] = {kind, std::move(what)};
  ++messages_;
  return nlh;
}

void nft_batch::close_message() {
  auto* nlh = reinterpret_cast<nlmsghdr*>(buffer_.data() + used_);
  used_ += NLMSG_ALIGN(nlh->nlmsg_len);
}

char* nft_batch::reserve() {
  if (buffer_.size() < used_ + message_headroom) {
    buffer_.resize(std::max(buffer_.size() * 2, used_ + message_headroom));
  }
  std::memset(buffer_.data() + used_, 0, message_headroom);
  return buffer_.data() + used_;
}

const nft_batch::request* nft_batch::find(std::uint32_t seq) const {
  auto it = requests_.find(seq);
  return it == requests_.end() ? nullptr : &it->second;
}

void nft_batch::send(mnl_socket* socket) {
  nftnl_batch_end(reserve(), seq_++);
  close_message();
  int fd = mnl_socket_get_fd(socket);
  // A batch larger than SO_SNDBUF fails with EMSGSIZE (10000 prefixes: 400 KB against 208 KiB);
  // and each message gets an ACK, which must fit the receive buffer until we drain it.
  set_buffer(fd, SO_SNDBUFFORCE, SO_SNDBUF, size() + std::size_t{64} * 1024);
  set_buffer(fd, SO_RCVBUFFORCE, SO_RCVBUF, messages() * 1024 + std::size_t{256} * 1024);
  if (mnl_socket_sendto(socket, data(), size()) < 0) {
    int e = errno;
    throw rules_error(
        fmt::format("nftables: cannot send the batch ({} messages, {} bytes): {} ({}); likely cause: {}", messages(),
                    size(), std::generic_category().message(e), errno_name(e), likely_cause(object_kind::batch, e)),
        e);
  }
  auto r = drain_replies(fd);
  if (!r.errors.empty()) {
    // The first error is the cause; later ones are mostly ENOENTs for what the failed one would
    // have created.
    const auto& first = r.errors.front();
    const auto* req = find(first.seq);
    auto kind = req ? req->kind : object_kind::batch;
    auto text = fmt::format(
        "nftables: cannot {}: {} ({}){}; likely cause: {}{}", req ? req->what : "apply the batch",
        std::generic_category().message(first.error), errno_name(first.error),
        first.kernel_message.empty() ? "" : " (kernel: " + first.kernel_message + ")", likely_cause(kind, first.error),
        r.errors.size() > 1 ? fmt::format("; {} later errors follow from it", r.errors.size() - 1) : "");
    throw rules_error(text, first.error);
  }
  if (r.overrun || r.acks < messages()) {
    throw rules_error(fmt::format("nftables: got {} of {} replies to the batch{}; whether it applied is unknown",
                                  r.acks, messages(), r.overrun ? " (receive buffer overrun)" : ""),
                      r.overrun ? ENOBUFS : EIO);
  }
}

}  // namespace detour::rules
