#include "detour/metrics/process_metrics.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include <charconv>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

namespace detour::metrics {

namespace {

std::string read_file(const char* path) {
  std::ifstream in(path);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

double boot_time() {
  std::istringstream in(read_file("/proc/stat"));
  std::string key;
  double value = 0;
  while (in >> key) {
    if (key == "btime" && in >> value) return value;
    in.ignore(std::numeric_limits<std::streamsize>::max(), '\n');
  }
  return 0;
}

std::uint64_t open_descriptors() {
  std::error_code ec;
  std::uint64_t n = 0;
  for (std::filesystem::directory_iterator it("/proc/self/fd", ec), end; !ec && it != end; it.increment(ec)) ++n;
  return n > 0 ? n - 1 : 0;  // less the descriptor the listing itself holds open
}

}  // namespace

bool parse_proc_stat(std::string_view stat, double boot, long ticks_per_second, long page_size, process_sample& out) {
  // The command name is in parentheses and may contain anything, ")" included: the fields start
  // after the last ")".
  const auto close = stat.rfind(')');
  if (close == std::string_view::npos || ticks_per_second <= 0) return false;
  std::vector<std::string_view> fields;  // fields[0] is field 3 (state) in proc(5)'s numbering
  for (std::size_t i = close + 1; i < stat.size();) {
    while (i < stat.size() && stat[i] == ' ') ++i;
    const auto end = std::min(stat.find(' ', i), stat.size());
    if (end > i) fields.push_back(stat.substr(i, end - i));
    i = end;
  }
  if (fields.size() < 22) return false;
  auto number = [&fields](std::size_t field) {
    std::uint64_t v = 0;
    const auto text = fields[field - 3];
    std::from_chars(text.data(), text.data() + text.size(), v);
    return v;
  };
  const auto ticks = static_cast<double>(ticks_per_second);
  out.cpu_seconds = static_cast<double>(number(14) + number(15)) / ticks;
  out.start_time_seconds = boot + static_cast<double>(number(22)) / ticks;
  out.virtual_bytes = number(23);
  out.resident_bytes = number(24) * static_cast<std::uint64_t>(page_size);
  return true;
}

process_sample read_process() {
  process_sample p;
  (void)parse_proc_stat(read_file("/proc/self/stat"), boot_time(), ::sysconf(_SC_CLK_TCK), ::sysconf(_SC_PAGESIZE), p);
  p.open_fds = open_descriptors();
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) == 0) p.max_fds = limit.rlim_cur;
  return p;
}

void add_process_families(families& out, const process_sample& p) {
  using prometheus::MetricType;
  auto one = [&out](const char* name, const char* help, MetricType type, double value) {
    add_value(add_family(out, name, help, type), {}, value);
  };
  one("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.", MetricType::Counter,
      p.cpu_seconds);
  one("process_open_fds", "Number of open file descriptors.", MetricType::Gauge, static_cast<double>(p.open_fds));
  one("process_max_fds", "Maximum number of open file descriptors.", MetricType::Gauge, static_cast<double>(p.max_fds));
  one("process_virtual_memory_bytes", "Virtual memory size in bytes.", MetricType::Gauge,
      static_cast<double>(p.virtual_bytes));
  one("process_resident_memory_bytes", "Resident memory size in bytes.", MetricType::Gauge,
      static_cast<double>(p.resident_bytes));
  one("process_start_time_seconds", "Start time of the process since unix epoch in seconds.", MetricType::Gauge,
      p.start_time_seconds);
}

}  // namespace detour::metrics
