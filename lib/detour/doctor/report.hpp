#pragma once
// What `detourd doctor` prints: one finding per check, one line each.
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

namespace detour::doctor {

// fail: detourd will not start or will not capture; warn: it runs, but a limit or another
// program's rules may cost connections under load.
enum class level { ok, warn, fail };

std::string_view to_string(level l);

struct finding {
  level verdict = level::ok;
  std::string check;  // a fixed name per check ("local ports"), for people and scripts alike
  std::string text;   // what was found, with the values read
  std::string fix;    // empty for ok
  friend bool operator==(const finding&, const finding&) = default;
};

// "WARN  local ports: 1000 ports (net.ipv4.ip_local_port_range 60000-60999); fix: sysctl ..."
// The level is padded to one width, so the check names line up.
std::string format_line(const finding& f);

// 1 when any finding fails, else 0: the doctor's exit status.
int exit_status(const std::vector<finding>& findings);

void print_report(const std::vector<finding>& findings, std::ostream& out);

}  // namespace detour::doctor
