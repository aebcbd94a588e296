#include "detour/net/host_pattern.hpp"

#include <fmt/format.h>

namespace detour::net {
namespace {

constexpr std::size_t max_name = 253;  // RFC 1035's 255 octets on the wire, less the length bytes
constexpr std::size_t max_label = 63;
constexpr std::string_view keyword_prefix = "keyword:";
constexpr std::string_view suffix_prefix = "*.";

bool name_char(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_'; }

char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

// The pattern as written, for messages: a list line can be anything, up to megabytes of it.
std::string shown(std::string_view text) {
  std::string out;
  for (char c : text.substr(0, 80)) {
    const auto u = static_cast<unsigned char>(c);
    out += u < 0x20 || u == 0x7f ? '?' : c;
  }
  if (text.size() > 80) out += "...";
  return out;
}

std::string bad_char(char c) {
  const auto u = static_cast<unsigned char>(c);
  if (u >= 0x80) return "non-ASCII; write an internationalized name in its xn-- form";
  if (u < 0x20 || u == 0x7f || c == ' ') return fmt::format("byte {:#04x} is not a letter, digit, '-', '_' or '.'", u);
  return fmt::format("'{}' is not a letter, digit, '-', '_' or '.'", c);
}

// Why `name` (already lower-case) is not a domain name, or empty when it is one.
std::string name_problem(std::string_view name) {
  if (name.size() > max_name) return fmt::format("{} characters, over the limit of {}", name.size(), max_name);
  std::size_t label = 0;
  for (std::size_t i = 0; i <= name.size(); ++i) {
    if (i == name.size() || name[i] == '.') {
      if (label == 0) return "an empty label";
      if (label > max_label) {
        return fmt::format("the label \"{}\" is {} characters, over the limit of {}",
                           shown(name.substr(i - label, label)), label, max_label);
      }
      label = 0;
    } else if (name[i] == '*') {
      return "'*' may only start a pattern, as in \"*.example.com\"";
    } else if (!name_char(name[i])) {
      return bad_char(name[i]);
    } else {
      ++label;
    }
  }
  return {};
}

std::string keyword_problem(std::string_view keyword) {
  if (keyword.empty()) return "an empty keyword";
  if (keyword.size() > max_name) return fmt::format("{} characters, over the limit of {}", keyword.size(), max_name);
  for (char c : keyword) {
    if (!name_char(c) && c != '.') return bad_char(c);
  }
  return {};
}

}  // namespace

bool host_pattern::matches(std::string_view name) const {
  switch (match) {
    case kind::exact:
      return name == text;
    case kind::suffix:
      return name == text ||
             (name.size() > text.size() && name.ends_with(text) && name[name.size() - text.size() - 1] == '.');
    case kind::keyword:
      return name.find(text) != std::string_view::npos;
  }
  return false;
}

std::string host_pattern::to_string() const {
  switch (match) {
    case kind::exact:
      return text;
    case kind::suffix:
      return std::string(suffix_prefix) + text;
    case kind::keyword:
      return std::string(keyword_prefix) + text;
  }
  return text;
}

std::optional<host_pattern> parse_host_pattern(std::string_view text, std::string* why) {
  std::string lowered(text);
  for (auto& c : lowered) c = lower(c);
  host_pattern out;
  std::string problem;
  std::string_view rest = lowered;
  if (rest.starts_with(keyword_prefix)) {
    // A keyword is a substring, so its dots are its own: "tracker." is a different keyword.
    out.match = host_pattern::kind::keyword;
    rest.remove_prefix(keyword_prefix.size());
    problem = keyword_problem(rest);
  } else {
    if (rest.ends_with('.')) rest.remove_suffix(1);
    if (rest.starts_with(suffix_prefix) || rest == "*") {
      out.match = host_pattern::kind::suffix;
      rest.remove_prefix(std::min(rest.size(), suffix_prefix.size()));
      if (rest.empty()) problem = "nothing after \"*.\"";
    }
    if (rest.empty() && problem.empty()) {
      problem = "empty";
    } else if (problem.empty()) {
      if (auto colon = rest.find(':'); colon != std::string_view::npos) {
        const auto after = rest.substr(colon + 1);
        if (!after.empty() && after.find_first_not_of("0123456789") == std::string_view::npos) {
          problem = "a port is not part of a host pattern";
        } else {
          problem =
              fmt::format("unknown kind \"{}:\"; expected NAME, *.NAME or keyword:TEXT", shown(rest.substr(0, colon)));
        }
      } else if (rest.front() == '.' && out.match == host_pattern::kind::exact) {
        problem = fmt::format("an empty label; for {} and every name under it write \"*.{}\"", shown(rest.substr(1)),
                              shown(rest.substr(1)));
      } else {
        problem = name_problem(rest);
      }
    }
  }
  if (!problem.empty()) {
    if (why) *why = fmt::format("\"{}\": not a host pattern ({})", shown(text), problem);
    return std::nullopt;
  }
  out.text = std::string(rest);
  return out;
}

}  // namespace detour::net
