#pragma once
// `detourd rules show|install|remove`: the rules without the daemon, for inspecting the ruleset
// and for setups where something other than a running detourd holds the rules (init containers).
// daemon/main.cpp calls these after loading the config; `detourd run` uses owned_table instead.
#include "detour/config/config.hpp"

#include <iostream>
#include <ostream>

namespace detour::rules {

// Prints the ruleset `run` would install, in nft syntax, the guard table too with on_failure:
// closed; touches nothing. Returns 0.
int rules_show(const config& cfg, std::ostream& out);

// `rules show --counters`: the table as the kernel holds it in this network namespace, each rule
// with its `counter packets N bytes M`. Returns 1 with the reason on `err` when the table is not
// installed or cannot be read.
int rules_show_counters(const config& cfg, std::ostream& out, std::ostream& err = std::cerr);

// Installs the table un-owned, so it stays after this process exits (init containers, as
// istio-init does), replacing a table of the same name; with on_failure: closed the guard table
// too, installed first. Errors go to `err`; returns 0 or 1.
int rules_install(const config& cfg, std::ostream& err = std::cerr);

// Deletes the table, then the guard table if there is one, whatever on_failure says. A missing
// table is not an error (says so on `err`, returns 0); a table owned by a running detourd cannot be
// deleted (returns 1 with the reason, and its guard stays).
int rules_remove(const config& cfg, std::ostream& err = std::cerr);

}  // namespace detour::rules
