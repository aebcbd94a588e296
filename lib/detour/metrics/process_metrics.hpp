#pragma once
#include "detour/metrics/exposition.hpp"

#include <cstdint>
#include <string_view>

namespace detour::metrics {

// This process as the kernel accounts it, read from /proc at scrape time.
struct process_sample {
  double cpu_seconds = 0;         // user + system
  double start_time_seconds = 0;  // since the Unix epoch
  std::uint64_t resident_bytes = 0;
  std::uint64_t virtual_bytes = 0;
  std::uint64_t open_fds = 0;
  std::uint64_t max_fds = 0;  // RLIMIT_NOFILE, soft
};

process_sample read_process();

// Parses /proc/PID/stat (the fields after the command name, which may hold spaces and parentheses)
// with the boot time from /proc/stat's btime; false when the text is not what the kernel writes.
bool parse_proc_stat(std::string_view stat, double boot_time, long ticks_per_second, long page_size,
                     process_sample& out);

// The standard process_* families every Prometheus client exports.
void add_process_families(families& out, const process_sample& p);

}  // namespace detour::metrics
