#pragma once
// What /proc tells about a process (detourd's memory and descriptors) and about this namespace's
// sockets, read the way `ps`, `ls -l /proc/PID/fd` and `ss` would.
#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <cstdint>

namespace detour::test {

using namespace std::chrono_literals;

// VmRSS of `pid`, in KiB (0 if /proc does not say).
std::uint64_t resident_kib(pid_t pid);
// VmHWM of `pid`, in KiB: the highest VmRSS since it started or since reset_peak_resident().
std::uint64_t peak_resident_kib(pid_t pid);
// Starts VmHWM afresh from the current VmRSS (clear_refs 5), so the peak measures one load, not
// the startup before it.
void reset_peak_resident(pid_t pid);

struct descriptor_counts {
  std::size_t sockets = 0;
  std::size_t pipes = 0;
  std::size_t total = 0;
};
// CPU time `pid` has used so far, user and system, in seconds (/proc/PID/stat utime + stime).
double cpu_seconds(pid_t pid);

// The descriptors `pid` has open, by kind.
descriptor_counts open_descriptors(pid_t pid);

// Raises this process's soft RLIMIT_NOFILE to its hard limit, which its children (detourd)
// inherit; throws if that still leaves fewer than `needed`.
void raise_descriptor_limit(std::size_t needed);

// Returns once something in this namespace listens on `port` (read from /proc/net/tcp and tcp6,
// so no probe connection shows up in the server's log); throws after `timeout`.
void wait_until_listening(std::uint16_t port, std::chrono::milliseconds timeout = 10s);

// TCP sockets of this namespace whose SYN is sent and not yet answered (SYN_SENT): how a test sees
// that detourd is connecting upstream, which it does not say until the attempt ends.
std::size_t connects_in_flight();

}  // namespace detour::test
