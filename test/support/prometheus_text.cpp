#include "support/prometheus_text.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <limits>
#include <stdexcept>

namespace detour::test {

namespace {

[[noreturn]] void malformed(std::string_view line, std::string_view why) {
  throw std::runtime_error(fmt::format("metrics line \"{}\": {}", line, why));
}

// The labels between the braces of `line`, from just after "{" to the closing "}", whose position
// it returns. Values are quoted and may hold escaped quotes, backslashes and newlines.
std::size_t read_labels(std::string_view line, std::size_t at, metric_labels& out) {
  while (at < line.size() && line[at] != '}') {
    const auto equals = line.find('=', at);
    if (equals == std::string_view::npos || equals + 1 >= line.size() || line[equals + 1] != '"') {
      malformed(line, "expected name=\"value\" in the labels");
    }
    std::string name(line.substr(at, equals - at));
    std::string value;
    std::size_t i = equals + 2;
    for (; i < line.size() && line[i] != '"'; ++i) {
      if (line[i] == '\\' && i + 1 < line.size()) {
        ++i;
        value += line[i] == 'n' ? '\n' : line[i];
      } else {
        value += line[i];
      }
    }
    if (i >= line.size()) malformed(line, "unterminated label value");
    out.emplace_back(std::move(name), std::move(value));
    at = i + 1;
    if (at < line.size() && line[at] == ',') ++at;
  }
  if (at >= line.size()) malformed(line, "no closing brace");
  return at;
}

double read_value(std::string_view line, std::string_view text) {
  if (text == "+Inf") return std::numeric_limits<double>::infinity();
  if (text == "-Inf") return -std::numeric_limits<double>::infinity();
  if (text == "NaN") return std::numeric_limits<double>::quiet_NaN();
  double v = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (error != std::errc() || end != text.data() + text.size()) malformed(line, "the value is not a number");
  return v;
}

}  // namespace

std::string sample_key(std::string_view name, metric_labels labels) {
  if (labels.empty()) return std::string(name);
  std::sort(labels.begin(), labels.end());
  std::vector<std::string> parts;
  for (const auto& [k, v] : labels) parts.push_back(fmt::format("{}=\"{}\"", k, v));
  return fmt::format("{}{{{}}}", name, fmt::join(parts, ","));
}

metric_samples metric_samples::parse(std::string_view text) {
  metric_samples out;
  while (!text.empty()) {
    const auto end = std::min(text.find('\n'), text.size());
    const auto line = text.substr(0, end);
    text.remove_prefix(std::min(end + 1, text.size()));
    if (line.empty() || line.front() == '#') continue;
    const auto name_end = line.find_first_of("{ ");
    if (name_end == 0 || name_end == std::string_view::npos) malformed(line, "expected a metric name and a value");
    metric_labels labels;
    auto value_start = name_end;
    if (line[name_end] == '{') value_start = read_labels(line, name_end + 1, labels) + 1;
    if (value_start >= line.size() || line[value_start] != ' ') malformed(line, "expected a space before the value");
    auto value = line.substr(value_start + 1);
    // A timestamp may follow the value; the scrapes here carry none, but it is not the value.
    value = value.substr(0, value.find(' '));
    auto key = sample_key(line.substr(0, name_end), std::move(labels));
    if (!out.values_.emplace(key, read_value(line, value)).second) malformed(line, "the same sample twice");
  }
  return out;
}

double metric_samples::value(const std::string& key) const {
  auto it = values_.find(key);
  return it == values_.end() ? 0 : it->second;
}

}  // namespace detour::test
