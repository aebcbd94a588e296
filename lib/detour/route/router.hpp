#pragma once
#include "detour/config/config.hpp"
#include "detour/net/cidr.hpp"

#include <boost/asio/ip/tcp.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace detour::route {

namespace detail {

using u128 = net::uint128;

// Sorted interval starts (the first is always 0) and, per interval, the index of its rule set.
template <typename Key>
struct interval_map {
  std::vector<Key> starts;
  std::vector<std::uint32_t> sets;

  std::uint32_t find(Key key) const;
};

}  // namespace detail

struct route_decision {
  route_action action;
  std::optional<std::size_t> rule;  // index into config::routes; nullopt: the default action
};

// The routes compiled for per-connection decisions. Each match dimension (destination address per
// family, destination port, source address per family) is cut into disjoint intervals at every
// prefix or range boundary; each interval holds the set of rules that dimension lets through, as a
// bitset shared with equal intervals. A decision is then three binary searches and an AND of three
// bitsets, whose lowest set bit is the first matching rule: first-match order is kept exactly while
// the cost grows with log(prefixes), not with their number (see bench/route_bench.cpp for figures).
// Immutable once built, so workers may share one.
class router {
 public:
  // No rules: everything gets `default_action`.
  explicit router(route_action default_action = {});
  router(const std::vector<route_rule>& rules, route_action default_action, std::vector<std::string> upstream_names);
  explicit router(const config& c);

  route_decision decide(const boost::asio::ip::tcp::endpoint& source,
                        const boost::asio::ip::tcp::endpoint& destination) const;

  // For logs: "direct", "reject", "echo json", "upstream corp".
  std::string action_name(const route_action& action) const;
  // The route's name: the rule's `name:` or "route N" (1-based), or "default".
  const std::string& route_name(const route_decision& decision) const;
  // For logs: "corp: upstream corp", "route 3: reject", "default: direct".
  std::string describe(const route_decision& decision) const;
  // The action of route `i` in route_names() order (the last is the default's).
  const route_action& route_action_of(std::size_t i) const {
    return i < actions_.size() ? actions_[i] : default_action_;
  }
  // Every route's name in order, then "default": the label values metrics may take.
  const std::vector<std::string>& route_names() const { return names_; }

  std::size_t rule_count() const { return actions_.size(); }

 private:
  template <typename Key>
  using interval_map = detail::interval_map<Key>;
  using u128 = detail::u128;

  const std::uint64_t* set(std::uint32_t id) const { return sets_.data() + std::size_t{id} * words_; }

  std::vector<route_action> actions_;
  std::vector<std::string> names_;  // one per rule, then "default"
  route_action default_action_;
  std::vector<std::string> upstream_names_;
  std::size_t words_ = 0;
  std::vector<std::uint64_t> sets_;  // words_ per set, deduplicated
  interval_map<std::uint32_t> destination_v4_;
  interval_map<u128> destination_v6_;
  interval_map<std::uint32_t> port_;
  interval_map<std::uint32_t> source_v4_;
  interval_map<u128> source_v6_;
};

}  // namespace detour::route
