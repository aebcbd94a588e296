#pragma once
// A rule_plan encoded as libnftnl messages appended to an nft_batch. Nothing here talks to the
// kernel, so the encoding can be parsed back and checked without one. Every message carries a
// description ("create set out_ports (type inet_service)") that an error reply quotes.
#include "detour/rules/nft_batch.hpp"
#include "detour/rules/rule_plan.hpp"

#include <string>

namespace detour::rules {

enum class ownership {
  none,   // an ordinary table that outlives us (`detourd rules install`, for init containers)
  owner,  // NFT_TABLE_F_OWNER: only our socket may change it, and the kernel deletes it when that
          // socket closes, even on kill -9, so a dead detourd fails open
};

void create_table(nft_batch& b, const std::string& name, ownership own);
// NEWTABLE on the existing table, which keeps its contents: it opens a batch that changes them.
// `own` must be what the table was created with; NEWTABLE cannot add or drop the owner flag.
void update_table(nft_batch& b, const std::string& name, ownership own);
void delete_table(nft_batch& b, const std::string& name);
// "Whatever table of this name exists, delete it", for a batch that creates it afresh next.
void reset_table(nft_batch& b, const std::string& name);

void create_chain(nft_batch& b, const std::string& table, const chain& c);
void delete_chain(nft_batch& b, const std::string& table, const std::string& name);
// Deletes every rule in the chain and keeps the chain with its hook.
void flush_chain(nft_batch& b, const std::string& table, const std::string& name);

// Every set of the plan with its elements. A set's id in this batch is its index in plan.sets plus
// one; rules added in the same batch refer to it by that id as well as by name.
void create_sets(nft_batch& b, const rule_plan& plan);
void delete_set(nft_batch& b, const std::string& table, const set_decl& s);

// Every rule of every chain of the plan, appended to chains that exist or are created earlier in
// the batch.
void add_rules(nft_batch& b, const rule_plan& plan);

// The table's contents (sets, chains, rules), for a table that is empty or was just created in this
// batch.
void add_contents(nft_batch& b, const rule_plan& plan);

// The plan with set names of generation `gen` ("out_ports_g3"; 0: as planned), for the
// double-buffered sets of nft_installer::replace.
rule_plan with_generation(const rule_plan& plan, unsigned gen);

}  // namespace detour::rules
