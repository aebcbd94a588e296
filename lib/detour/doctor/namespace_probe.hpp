#pragma once
// The doctor's kernel test, done where it changes nothing of the host: a forked child unshares a
// network namespace of its own (the doctor's stays as it was), installs one nat output chain
// redirecting tcp port 9 to a listener, connects to 127.0.0.1:9 and [::1]:9 and reads each
// connection's original destination back with SO_ORIGINAL_DST, as detourd's workers do. The
// namespace, its table and its sockets vanish with the child.
#include "detour/doctor/probe_results.hpp"

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace detour::doctor {

// Runs the test at nat priority `priority`. Bounded by `timeout`: a child that has not reported
// by then is killed and reaped, and the result says so.
namespace_probe_result probe_in_throwaway_namespace(int priority, std::chrono::milliseconds timeout);

// How the child reports through its pipe: one line per step, its outcome's number and its detail.
std::string encode(const namespace_probe_result& r);
// nullopt when the text is not a complete report (the child died half-way).
std::optional<namespace_probe_result> decode(std::string_view text);

}  // namespace detour::doctor
