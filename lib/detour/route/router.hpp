#pragma once
#include "detour/config/config.hpp"
#include "detour/net/cidr.hpp"
#include "detour/route/host_matcher.hpp"

#include <boost/asio/ip/tcp.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
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

// What a decision looks at: the connection's addresses, the server name sniffed from its first
// bytes and the way it crosses this host.
struct route_query {
  boost::asio::ip::tcp::endpoint source, destination;
  // The sniffed server name, lower-case and without a trailing dot; empty: none was sniffed, and
  // then no rule with hosts matches.
  std::string_view name{};
  traffic_direction direction = traffic_direction::outbound;
};

struct route_decision {
  route_action action;
  std::optional<std::size_t> rule;  // index into config::routes; nullopt: the default action
};

// The routes compiled for per-connection decisions. Each address dimension (destination address per
// family, destination port, source address per family) is cut into disjoint intervals at every
// prefix or range boundary; each interval holds the set of rules that dimension lets through, as a
// bitset shared with equal intervals. The direction picks one of two bitsets, and the rules without
// hosts form one more. A decision is three binary searches and an AND of five bitsets, whose lowest
// set bit is the first rule matching without a name; the host matcher then looks only for a rule
// with hosts below it that the other bitsets admit. First-match order is kept exactly while the
// cost grows with log(prefixes) and the number of labels in the name, not with the number of
// prefixes or patterns (see bench/route_bench.cpp for figures). Immutable once built, so workers
// may share one.
class router {
 public:
  // No rules: everything gets `default_action`.
  explicit router(route_action default_action = {});
  router(const std::vector<route_rule>& rules, route_action default_action, std::vector<std::string> upstream_names);
  explicit router(const config& c);

  // Allocates nothing.
  route_decision decide(const route_query& q) const;

  // Whether any rule has host patterns: without one, a name would change no decision, so a session
  // need not wait to sniff it.
  bool uses_names() const { return !hosts_.empty(); }

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
  std::array<std::uint32_t, 2> direction_{};  // the set of each traffic_direction
  std::uint32_t without_hosts_ = 0;           // the set of the rules without host patterns
  host_matcher hosts_;
};

}  // namespace detour::route
