#include "detour/doctor/report.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>

namespace detour::doctor {

std::string_view to_string(level l) {
  constexpr std::array<std::string_view, 3> names{"OK", "WARN", "FAIL"};
  return names.at(static_cast<std::size_t>(l));
}

std::string format_line(const finding& f) {
  auto line = fmt::format("{:<4}  {}: {}", to_string(f.verdict), f.check, f.text);
  if (!f.fix.empty()) line += fmt::format("; fix: {}", f.fix);
  return line;
}

int exit_status(const std::vector<finding>& findings) {
  return std::any_of(findings.begin(), findings.end(), [](const finding& f) { return f.verdict == level::fail; }) ? 1
                                                                                                                  : 0;
}

void print_report(const std::vector<finding>& findings, std::ostream& out) {
  for (const auto& f : findings) out << format_line(f) << '\n';
}

}  // namespace detour::doctor
