#include "detour/rules/nft_installer.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cerrno>
#include <ctime>
#include <stdexcept>

namespace detour::rules {
namespace {

const chain* find_chain(const rule_plan& p, const std::string& name) {
  auto it = std::find_if(p.chains.begin(), p.chains.end(), [&](const chain& c) { return c.name == name; });
  return it == p.chains.end() ? nullptr : &*it;
}

bool same_hook(const chain* a, const chain* b) {
  return a && b && a->where == b->where && a->priority == b->priority && a->type == b->type;
}

}  // namespace

nft_installer::nft_installer() : socket_(open_nft_socket()), seq_(static_cast<std::uint32_t>(::time(nullptr))) {}

void nft_installer::install(const rule_plan& plan, ownership own) {
  if (installed_) {
    replace(plan);
    return;
  }
  nft_batch b(seq_);
  reset_table(b, plan.table);
  create_table(b, plan.table, own);
  add_contents(b, plan);
  send(b);
  installed_ = plan;
  installed_ownership_ = own;
}

void nft_installer::replace(const rule_plan& requested) {
  if (!installed_) throw std::logic_error("nft_installer::replace before install");
  const auto old = *installed_;

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
  if (!plan.sets.empty()) {
    nft_batch b(seq_);
    create_sets(b, plan);
    send(b);
  }

  nft_batch b(seq_);
  update_table(b, plan.table, installed_ownership_);
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
    if (!same_hook(&c, find_chain(old, c.name))) create_chain(b, plan.table, c);
  }
  add_rules(b, plan);
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
  delete_table(b, table);
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
