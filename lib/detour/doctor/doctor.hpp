#pragma once
// `detourd doctor`: runs every check of checks.hpp against this host and network namespace and
// prints one line each. daemon/main.cpp calls it after loading the config.
#include "detour/config/config.hpp"
#include "detour/doctor/report.hpp"

#include <ostream>
#include <vector>

namespace detour::doctor {

// Probes the host (read-only, apart from the throw-away namespace) and judges what it read.
std::vector<finding> examine_host(const config& cfg);

// Prints the findings to `out`; returns 0 when none fails, else 1.
int doctor_command(const config& cfg, std::ostream& out);

}  // namespace detour::doctor
