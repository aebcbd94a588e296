#pragma once
// What the doctor's probes read from the host, as plain values: the checks (checks.hpp) judge
// these without touching the kernel, so every decision is unit-tested.
#include "detour/rules/rule_plan.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace detour::doctor {

enum class probe_outcome {
  ok,
  failed,
  unavailable,  // the thing to test is not there at all (no IPv6 on this host) or was not reached
};

struct probe_step {
  probe_outcome outcome = probe_outcome::unavailable;
  std::string detail;  // what went wrong, or what was seen
  friend bool operator==(const probe_step&, const probe_step&) = default;
};

// The steps of the throw-away namespace test (namespace_probe.hpp), each depending on the one
// before it.
struct namespace_probe_result {
  probe_step sandbox;  // creating the namespace and bringing lo up
  probe_step nat;      // installing a table with a nat output chain and a redirect rule there
  probe_step ipv4;     // a redirected connection to 127.0.0.1 with its original destination read back
  probe_step ipv6;     // the same to ::1
  friend bool operator==(const namespace_probe_result&, const namespace_probe_result&) = default;
};

// A base chain of type nat somewhere in the ruleset of this namespace.
struct nat_chain {
  std::string family;  // "ip", "ip6", "inet"; "ip (iptables-legacy)" for x_tables' nat table
  std::string table;
  std::string name;
  rules::hook where = rules::hook::output;
  int priority = 0;
  friend bool operator==(const nat_chain&, const nat_chain&) = default;
};

struct nat_chain_listing {
  std::vector<nat_chain> chains;  // only the output and prerouting hooks, the ones detourd uses
  std::string error;              // non-empty: the ruleset could not be read
};

// Capability bits of /proc/self/status CapEff (linux/capability.h numbers).
inline constexpr int cap_net_bind_service = 10;
inline constexpr int cap_net_admin = 12;
inline constexpr int cap_sys_admin = 21;
inline constexpr int cap_sys_resource = 24;

inline bool has_capability(std::uint64_t effective, int cap) { return ((effective >> cap) & 1U) != 0; }

struct descriptor_limits {
  std::uint64_t soft = 0;
  std::uint64_t hard = 0;  // RLIM_INFINITY when unlimited
};

// fs.pipe-user-pages-soft and what it means for the user detourd runs as.
struct pipe_page_budget {
  std::uint64_t soft_limit_pages = 0;  // 0: no limit
  bool exempt = false;                 // CAP_SYS_RESOURCE or CAP_SYS_ADMIN: the kernel does not apply it
  std::uint64_t page_size = 4096;
  std::uint64_t pipe_size = 0;  // bytes per pipe, relay::pipe_pool's
};

}  // namespace detour::doctor
