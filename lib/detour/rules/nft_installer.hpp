#pragma once
#include "detour/rules/nft_batch.hpp"
#include "detour/rules/nft_encode.hpp"
#include "detour/rules/rule_plan.hpp"
#include "detour/rules/rules_error.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace detour::rules {

// Puts rule plans into nf_tables over one NETLINK_NETFILTER socket. Changes go out as batches
// (nft_batch), each applied all or nothing. install() and remove() are one batch each; replace()
// is three, each complete on its own (see there).
class nft_installer {
 public:
  nft_installer();
  nft_installer(const nft_installer&) = delete;
  nft_installer& operator=(const nft_installer&) = delete;

  // Creates the plan's table, replacing whatever table of that name exists (a stale one left by
  // `rules install` or an old detourd), in one batch: NEWTABLE + DELTABLE + NEWTABLE + contents.
  // A table owned by another process makes it fail with EPERM, naming the table.
  void install(const rule_plan& plan, ownership own);

  // Swaps the installed ruleset for `plan` through the same socket, with no moment in which a
  // connection escapes both the old and the new rules. Chains are flushed and refilled in place,
  // not re-created: among nat chains of equal priority the one registered last runs first, so a
  // re-created chain would change places with other tools' chains (docs/NFTABLES.md, "Replacing a
  // ruleset in place"). A chain whose priority changes cannot stay, so it is deleted and re-created
  // in the same batch. Sets are double-buffered across three batches (fill new sets, swap rules,
  // drop old sets; see the .cpp for the measurement behind it), so after a replace the kernel's set
  // names carry a generation suffix ("out_ports_g3"); installed() shows the names in use. A new
  // table name installs the new table beside the old, then deletes the old. On failure the old
  // rules stay in force.
  void replace(const rule_plan& plan);

  // Deletes the table; false when there was none.
  bool remove(const std::string& table);

  // What this installer last put into the kernel (with the set names in use), if anything.
  const std::optional<rule_plan>& installed() const { return installed_; }

 private:
  void send(nft_batch& b) { b.send(socket_.get()); }
  void delete_sets(const std::string& table, const std::vector<set_decl>& sets) noexcept;

  nft_socket socket_;
  std::uint32_t seq_;
  std::optional<rule_plan> installed_;
  ownership installed_ownership_ = ownership::none;
  unsigned generation_ = 0;
};

}  // namespace detour::rules
