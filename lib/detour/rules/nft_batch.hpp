#pragma once
#include "detour/rules/rules_error.hpp"

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

struct mnl_socket;
struct nlmsghdr;

namespace detour::rules {

// A NETLINK_NETFILTER socket, opened with SOCK_CLOEXEC so that a fork+exec child cannot keep an
// owned table alive. Throws rules_error when the kernel has no nfnetlink.
using nft_socket = std::unique_ptr<mnl_socket, int (*)(mnl_socket*)>;
nft_socket open_nft_socket();

// What a message creates or deletes; an error reply's likely cause depends on it.
enum class object_kind { batch, table, chain, set, elements, rule };

// "ENOENT" for ENOENT, and so on: error messages give the name beside strerror's text.
std::string errno_name(int e);
// A guess at why the kernel refused a message about `kind` with `e`, for error messages.
std::string likely_cause(object_kind kind, int e);

// A batch in a growing buffer: every message gets its own seq, remembered with a description, so a
// reply can name what it refers to. libmnl's fixed-size batch buffer would need a guess of the
// size up front; thousands of set elements make that guess hard.
class nft_batch {
 public:
  struct request {
    object_kind kind;
    std::string what;  // "create chain output (type nat hook output priority -99)"
  };

  // Room reserved and zeroed for each message, since libnftnl writes without bounds checks. The
  // largest message is a NEWSETELEM: the element iterator fills its list up to the attribute's
  // 16-bit length and writes one element more before dropping it, so a message reaches a little
  // over 64 KiB (65596 bytes for 3000 /24 prefixes); a rule is far smaller.
  static constexpr std::size_t message_headroom = std::size_t{128} * 1024;

  // Takes its seqs from `seq`, the socket's running counter.
  explicit nft_batch(std::uint32_t& seq);

  // Appends a message of `type` for the inet family, with NLM_F_ACK; `fill` gets its header to
  // complete with a payload. Returns whatever `fill` returns.
  template <typename F>
  auto add(std::uint16_t type, std::uint16_t flags, object_kind kind, std::string what, F&& fill) {
    auto* nlh = open_message(type, flags, kind, std::move(what));
    auto result = fill(nlh);
    close_message();
    return result;
  }

  // Ends the batch and sends it in one sendmsg(); the kernel applies all of it or none. Reads every
  // reply and throws rules_error naming the first message refused, or when replies are missing.
  void send(mnl_socket* socket);

  const char* data() const { return buffer_.data(); }
  std::size_t size() const { return used_; }
  std::size_t messages() const { return messages_; }
  const request* find(std::uint32_t seq) const;

 private:
  nlmsghdr* open_message(std::uint16_t type, std::uint16_t flags, object_kind kind, std::string what);
  void close_message();
  char* reserve();

  std::uint32_t& seq_;
  std::vector<char> buffer_;
  std::size_t used_ = 0;
  std::size_t messages_ = 0;
  std::map<std::uint32_t, request> requests_;
};

}  // namespace detour::rules
