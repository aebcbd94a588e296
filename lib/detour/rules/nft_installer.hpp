#pragma once
#include "detour/error.hpp"
#include "detour/rules/rule_plan.hpp"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

struct mnl_socket;

namespace detour::rules {

class nft_batch;

// A batch the kernel refused. what() names the object (table, chain, set or rule, with its name or
// its nft text), the kernel's errno text and the likely cause; the batch was aborted as a whole, so
// nothing of it is in the kernel.
class rules_error : public detour::error {
 public:
  rules_error(const std::string& message, int error_number) : detour::error(message), errno_(error_number) {}
  int error_number() const { return errno_; }

 private:
  int errno_;
};

enum class ownership {
  none,   // an ordinary table that outlives us (`detourd rules install`, for init containers)
  owner,  // NFT_TABLE_F_OWNER: only our socket may change it, and the kernel deletes it when that
          // socket closes, even on kill -9, so a dead detourd fails open
};

// Talks to nf_tables over one NETLINK_NETFILTER socket (opened with SOCK_CLOEXEC, so a fork+exec
// child cannot keep an owned table alive). Changes go out as batches: libnftnl encodes the plan,
// a batch goes out in one sendmsg() and applies all or nothing, and every reply is mapped back to
// the message it answers. install() and remove() are one batch each; replace() is three, each
// complete on its own (see there).
class nft_installer {
 public:
  nft_installer();
  ~nft_installer();
  nft_installer(const nft_installer&) = delete;
  nft_installer& operator=(const nft_installer&) = delete;

  // Creates the plan's table, replacing whatever table of that name exists (a stale one left by
  // `rules install` or an old detourd), in one batch: NEWTABLE + DELTABLE + NEWTABLE + contents.
  // A table owned by another process makes it fail with EPERM, naming the table.
  void install(const rule_plan& plan, ownership own);

  // Swaps the installed ruleset for `plan` through the same socket, with no moment in which a
  // connection escapes both the old and the new rules. Chains are flushed and refilled in place
  // (NFTABLES.md §6 mode A), which keeps our hooks' position among other tools' chains of equal
  // priority; a chain whose priority changes is deleted and re-created in the same batch. Sets are
  // double-buffered across three batches (fill new sets, swap rules, drop old sets; see the .cpp
  // for the measurement behind it), so after a replace the kernel's set names carry a generation
  // suffix ("out_ports_g3"); installed() shows the names in use. A new table name installs the new
  // table beside the old, then deletes the old. On failure the old rules stay in force.
  void replace(const rule_plan& plan);

  // Deletes the table; false when there was none.
  bool remove(const std::string& table);

  // What this installer last put into the kernel (with the set names in use), if anything.
  const std::optional<rule_plan>& installed() const { return installed_; }
  std::uint32_t port_id() const;

 private:
  void send(nft_batch& b);
  void delete_sets(const std::string& table, const std::vector<set_decl>& sets) noexcept;

  std::unique_ptr<mnl_socket, int (*)(mnl_socket*)> socket_;
  std::uint32_t seq_;
  std::optional<rule_plan> installed_;
  ownership installed_ownership_ = ownership::none;
  unsigned generation_ = 0;
};

}  // namespace detour::rules
