#include "detour/config/yaml_reader.hpp"

#include <fmt/format.h>
#include <algorithm>
#include <charconv>

namespace detour::config_detail {

void fail(std::string_view source, const YAML::Mark& mark, std::string_view key, std::string_view reason) {
  // yaml-cpp counts from 0; editors and compilers count from 1.
  if (mark.is_null()) throw config_error(fmt::format("{}: {}: {}", source, key, reason));
  throw config_error(fmt::format("{}:{}:{}: {}: {}", source, mark.line + 1, mark.column + 1, key, reason));
}

mapping::mapping(std::string_view source, const YAML::Node& node, std::string prefix)
    : source_(source), node_(node), prefix_(std::move(prefix)) {
  if (!node_.IsNull() && !node_.IsMap()) {
    fail(source_, node_.Mark(), prefix_.empty() ? "(top level)" : prefix_, "expected a mapping of keys to values");
  }
}

std::string mapping::key_path(std::string_view key) const {
  return prefix_.empty() ? std::string(key) : prefix_ + "." + std::string(key);
}

std::optional<YAML::Node> mapping::take(std::string_view key) {
  known_.emplace_back(key);
  if (node_.IsNull()) return std::nullopt;
  for (auto it = node_.begin(); it != node_.end(); ++it) {
    if (it->first.IsScalar() && it->first.Scalar() == key) return it->second;
  }
  return std::nullopt;
}

void mapping::finish() const {
  if (node_.IsNull()) return;
  std::vector<std::string> seen;
  for (auto it = node_.begin(); it != node_.end(); ++it) {
    auto name = it->first.IsScalar() ? it->first.Scalar() : std::string("?");
    if (std::find(seen.begin(), seen.end(), name) != seen.end()) {
      fail(source_, it->first.Mark(), key_path(name), "key appears twice");
    }
    seen.push_back(name);
    if (std::find(known_.begin(), known_.end(), name) == known_.end()) {
      fail(source_, it->first.Mark(), key_path(name), fmt::format("unknown key (known: {})", fmt::join(known_, ", ")));
    }
  }
}

void check_length(std::string_view source, const YAML::Mark& mark, std::string_view key, std::string_view value,
                  std::size_t max_bytes) {
  if (value.size() > max_bytes) {
    fail(source, mark, key, fmt::format("{} bytes, over the limit of {}", value.size(), max_bytes));
  }
}

void check_entries(std::string_view source, const YAML::Node& node, std::string_view key, std::size_t max_entries) {
  if (node.size() > max_entries) {
    fail(source, node.Mark(), key, fmt::format("{} entries, over the limit of {}", node.size(), max_entries));
  }
}

namespace {

const std::string& scalar(std::string_view source, const YAML::Node& node, std::string_view key,
                          std::string_view expected) {
  if (!node.IsScalar()) fail(source, node.Mark(), key, fmt::format("expected {}", expected));
  return node.Scalar();
}

}  // namespace

std::string read_string(std::string_view source, const YAML::Node& node, std::string_view key) {
  return scalar(source, node, key, "a string");
}

bool read_bool(std::string_view source, const YAML::Node& node, std::string_view key) {
  const auto& text = scalar(source, node, key, "true or false");
  if (text == "true") return true;
  if (text == "false") return false;
  fail(source, node.Mark(), key, fmt::format("expected true or false, got \"{}\"", text));
}

std::int64_t read_int(std::string_view source, const YAML::Node& node, std::string_view key, std::int64_t min,
                      std::int64_t max) {
  auto expected = fmt::format("an integer from {} to {}", min, max);
  const auto& text = scalar(source, node, key, expected);
  std::string_view digits = text;
  int base = 10;
  bool negative = !digits.empty() && digits.front() == '-';
  if (negative) digits.remove_prefix(1);
  if (digits.size() > 2 && digits[0] == '0' && (digits[1] == 'x' || digits[1] == 'X')) {
    base = 16;
    digits.remove_prefix(2);
  }
  std::uint64_t magnitude = 0;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), magnitude, base);
  bool ok = !digits.empty() && ec == std::errc{} && end == digits.data() + digits.size() &&
            magnitude <= static_cast<std::uint64_t>(INT64_MAX);
  auto value = negative ? -static_cast<std::int64_t>(magnitude) : static_cast<std::int64_t>(magnitude);
  if (!ok || value < min || value > max) {
    fail(source, node.Mark(), key, fmt::format("expected {}, got \"{}\"", expected, text));
  }
  return value;
}

std::chrono::milliseconds read_duration(std::string_view source, const YAML::Node& node, std::string_view key) {
  static constexpr std::string_view expected = "a duration such as 500ms, 10s, 5m or 1h";
  const auto& text = scalar(source, node, key, expected);
  std::uint64_t amount = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), amount);
  std::string_view unit(end, static_cast<std::size_t>(text.data() + text.size() - end));
  std::uint64_t scale = 0;
  if (unit == "ms")
    scale = 1;
  else if (unit == "s")
    scale = 1000;
  else if (unit == "m")
    scale = 60'000;
  else if (unit == "h")
    scale = 3'600'000;
  if (ec != std::errc{} || end == text.data() || scale == 0 || amount > 10'000'000'000ULL / scale) {
    fail(source, node.Mark(), key, fmt::format("expected {}, got \"{}\"", expected, text));
  }
  return std::chrono::milliseconds(static_cast<std::int64_t>(amount * scale));
}

std::vector<net::cidr> read_cidrs(std::string_view source, const YAML::Node& node, std::string_view key) {
  return read_list<net::cidr>(
      source, node, key,
      [&](const YAML::Node& item, const std::string& path) {
        const auto& text = scalar(source, item, path, "an address prefix such as 10.0.0.0/8 or fd00::/8");
        std::string why;
        auto c = net::parse_cidr(text, &why);
        if (!c) fail(source, item.Mark(), path, why);
        return *c;
      },
      config_limits::address_entries);
}

std::vector<net::port_range> read_port_ranges(std::string_view source, const YAML::Node& node, std::string_view key) {
  return read_list<net::port_range>(source, node, key, [&](const YAML::Node& item, const std::string& path) {
    const auto& text = scalar(source, item, path, "a port or a range such as 8000-8080");
    std::string why;
    auto r = net::parse_port_range(text, &why);
    if (!r) fail(source, item.Mark(), path, why);
    return *r;
  });
}

std::vector<std::uint32_t> read_ids(std::string_view source, const YAML::Node& node, std::string_view key) {
  return read_list<std::uint32_t>(source, node, key, [&](const YAML::Node& item, const std::string& path) {
    return static_cast<std::uint32_t>(read_int(source, item, path, 0, 0xfffffffe));
  });
}

std::vector<std::string> read_strings(std::string_view source, const YAML::Node& node, std::string_view key) {
  return read_list<std::string>(source, node, key, [&](const YAML::Node& item, const std::string& path) {
    return read_string(source, item, path);
  });
}

}  // namespace detour::config_detail
