#pragma once
// Strict, typed reading of YAML nodes with errors that point at FILE:LINE:COLUMN and name the key.
// Shared by every config section so each reports problems the same way.
#include "detour/config/config.hpp"
#include "detour/config/config_limits.hpp"

#include <yaml-cpp/yaml.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace detour::config_detail {

[[noreturn]] void fail(std::string_view source, const YAML::Mark& mark, std::string_view key, std::string_view reason);

// A YAML mapping whose keys are checked against the ones the caller asks for: after the caller has
// taken every key it knows, finish() refuses whatever is left, naming it.
class mapping {
 public:
  mapping(std::string_view source, const YAML::Node& node, std::string prefix);

  std::optional<YAML::Node> take(std::string_view key);
  // Takes `key` when present and stores reader(source, node, key path) in `target`.
  template <typename T, typename Reader>
  void read(std::string_view key, T& target, Reader&& reader) {
    if (auto v = take(key)) target = reader(source_, *v, key_path(key));
  }
  void finish() const;

  std::string key_path(std::string_view key) const;
  std::string_view source() const { return source_; }

 private:
  std::string source_;
  YAML::Node node_;
  std::string prefix_;
  std::vector<std::string> known_;
};

// Refuse a string longer than `max_bytes`, or a collection of more than `max_entries`, with a
// message naming the limit ("routes: 10001 entries, over the limit of 10000").
void check_length(std::string_view source, const YAML::Mark& mark, std::string_view key, std::string_view value,
                  std::size_t max_bytes);
void check_entries(std::string_view source, const YAML::Node& node, std::string_view key, std::size_t max_entries);

// The scalar converters: `key` is the full dotted key path used in errors.
std::string read_string(std::string_view source, const YAML::Node& node, std::string_view key);
bool read_bool(std::string_view source, const YAML::Node& node, std::string_view key);
std::int64_t read_int(std::string_view source, const YAML::Node& node, std::string_view key, std::int64_t min,
                      std::int64_t max);
std::chrono::milliseconds read_duration(std::string_view source, const YAML::Node& node, std::string_view key);

// A YAML sequence; each element goes through `item`, which receives the element node and its key
// path ("intercept.outbound.ports[2]").
template <typename T>
std::vector<T> read_list(std::string_view source, const YAML::Node& node, std::string_view key,
                         const std::function<T(const YAML::Node&, const std::string&)>& item,
                         std::size_t max_entries = config_limits::list_entries) {
  if (node.IsNull()) return {};
  if (!node.IsSequence()) fail(source, node.Mark(), key, "expected a list, e.g. [a, b]");
  check_entries(source, node, key, max_entries);
  std::vector<T> out;
  std::size_t index = 0;
  for (const auto& element : node) {
    out.push_back(item(element, std::string(key) + "[" + std::to_string(index++) + "]"));
  }
  return out;
}

std::vector<net::cidr> read_cidrs(std::string_view source, const YAML::Node& node, std::string_view key);
std::vector<net::port_range> read_port_ranges(std::string_view source, const YAML::Node& node, std::string_view key);
std::vector<std::uint32_t> read_ids(std::string_view source, const YAML::Node& node, std::string_view key);
std::vector<std::string> read_strings(std::string_view source, const YAML::Node& node, std::string_view key);

}  // namespace detour::config_detail
