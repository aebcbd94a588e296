#include "detour/route/router.hpp"

#include "detour/net/sockaddr.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <bit>
#include <map>

namespace detour::route {

namespace ip = boost::asio::ip;
using detail::u128;

template <typename Key>
std::uint32_t detail::interval_map<Key>::find(Key key) const {
  auto it = std::upper_bound(starts.begin(), starts.end(), key);
  return sets[static_cast<std::size_t>(it - starts.begin()) - 1];
}

namespace {

// The first and last address a prefix covers, as integers of the family's width.
template <typename Key>
std::pair<Key, Key> bounds(const net::cidr& c) {
  auto range = c.bounds();
  return {static_cast<Key>(range.first), static_cast<Key>(range.last)};
}

class set_builder {
 public:
  set_builder(std::size_t words, std::vector<std::uint64_t>& sets) : words_(words), sets_(sets) {}

  std::uint32_t intern(const std::vector<std::uint64_t>& bits) {
    auto [it, inserted] = index_.try_emplace(bits, static_cast<std::uint32_t>(index_.size()));
    if (inserted) sets_.insert(sets_.end(), bits.begin(), bits.end());
    return it->second;
  }

  // Sweeps the boundaries of every rule's ranges in this dimension, keeping a per-rule count of the
  // ranges covering the current point (a rule's ranges may overlap), and records the rule set of
  // each elementary interval. Rules with no ranges in this dimension (`wildcard`) are in every set.
  template <typename Key>
  detail::interval_map<Key> build(const std::vector<std::vector<std::pair<Key, Key>>>& ranges,
                                  const std::vector<bool>& wildcard) {
    struct event {
      Key point;
      std::size_t rule;
      int delta;
    };
    std::vector<event> events;
    for (std::size_t rule = 0; rule < ranges.size(); ++rule) {
      for (auto [first, last] : ranges[rule]) {
        events.push_back({first, rule, +1});
        if (last != static_cast<Key>(~Key{0})) events.push_back({static_cast<Key>(last + 1), rule, -1});
      }
    }
    std::sort(events.begin(), events.end(), [](const event& a, const event& b) { return a.point < b.point; });
    std::vector<int> cover(ranges.size(), 0);
    std::vector<std::uint64_t> bits(words_, 0);
    for (std::size_t rule = 0; rule < wildcard.size(); ++rule) {
      if (wildcard[rule]) bits[rule / 64] |= std::uint64_t{1} << (rule % 64);
    }
    detail::interval_map<Key> out;
    out.starts.push_back(0);
    out.sets.push_back(intern(bits));
    for (std::size_t i = 0; i < events.size();) {
      Key point = events[i].point;
      for (; i < events.size() && events[i].point == point; ++i) {
        auto rule = events[i].rule;
        cover[rule] += events[i].delta;
        auto bit = std::uint64_t{1} << (rule % 64);
        if (cover[rule] > 0 || wildcard[rule]) {
          bits[rule / 64] |= bit;
        } else {
          bits[rule / 64] &= ~bit;
        }
      }
      auto id = intern(bits);
      if (point == 0) {
        out.sets.back() = id;
      } else if (id != out.sets.back()) {
        out.starts.push_back(point);
        out.sets.push_back(id);
      }
    }
    return out;
  }

 private:
  std::size_t words_;
  std::vector<std::uint64_t>& sets_;
  std::map<std::vector<std::uint64_t>, std::uint32_t> index_;
};

}  // namespace

router::router(route_action default_action) : router({}, default_action, {}) {}

router::router(const config& c)
    : router(c.routes, c.default_action(), [&] {
        std::vector<std::string> names;
        for (const auto& u : c.upstreams) names.push_back(u.name);
        return names;
      }()) {}

router::router(const std::vector<route_rule>& rules, route_action default_action,
               std::vector<std::string> upstream_names)
    : default_action_(default_action), upstream_names_(std::move(upstream_names)) {
  // At least one word, so an empty rule list still yields valid (empty) sets to AND.
  words_ = std::max<std::size_t>(1, (rules.size() + 63) / 64);
  std::vector<std::vector<std::pair<std::uint32_t, std::uint32_t>>> dst4(rules.size()), src4(rules.size()),
      ports(rules.size());
  std::vector<std::vector<std::pair<u128, u128>>> dst6(rules.size()), src6(rules.size());
  std::vector<bool> any_dst(rules.size()), any_src(rules.size()), any_port(rules.size());
  std::vector<std::uint64_t> outbound(words_, 0), inbound(words_, 0), without_hosts(words_, 0);
  for (std::size_t i = 0; i < rules.size(); ++i) {
    const auto& r = rules[i];
    actions_.push_back(r.action);
    names_.push_back(r.name.empty() ? fmt::format("route {}", i + 1) : r.name);
    // A rule with only IPv6 destinations is not a wildcard for IPv4: it simply never matches there.
    any_dst[i] = r.destinations.empty() && r.destinations_file.entries.empty();
    any_src[i] = r.sources.empty();
    any_port[i] = r.ports.empty();
    for (const auto* list : {&r.destinations, &r.destinations_file.entries}) {
      for (const auto& c : *list) {
        if (c.is_v4())
          dst4[i].push_back(bounds<std::uint32_t>(c));
        else
          dst6[i].push_back(bounds<u128>(c));
      }
    }
    const auto bit = std::uint64_t{1} << (i % 64);
    if (r.direction != traffic_direction::inbound) outbound[i / 64] |= bit;
    if (r.direction != traffic_direction::outbound) inbound[i / 64] |= bit;
    if (r.hosts.empty() && r.hosts_file.entries.empty()) without_hosts[i / 64] |= bit;
    for (const auto& c : r.sources) {
      if (c.is_v4())
        src4[i].push_back(bounds<std::uint32_t>(c));
      else
        src6[i].push_back(bounds<u128>(c));
    }
    for (const auto& p : r.ports) ports[i].emplace_back(p.first, p.last);
  }
  set_builder builder(words_, sets_);
  destination_v4_ = builder.build(dst4, any_dst);
  destination_v6_ = builder.build(dst6, any_dst);
  source_v4_ = builder.build(src4, any_src);
  source_v6_ = builder.build(src6, any_src);
  port_ = builder.build(ports, any_port);
  direction_[static_cast<std::size_t>(traffic_direction::outbound)] = builder.intern(outbound);
  direction_[static_cast<std::size_t>(traffic_direction::inbound)] = builder.intern(inbound);
  without_hosts_ = builder.intern(without_hosts);
  hosts_ = host_matcher(rules);
  names_.emplace_back("default");
}

route_decision router::decide(const route_query& q) const {
  if (actions_.empty()) return {default_action_, std::nullopt};
  auto dst = net::unmap(q.destination.address());
  auto src = net::unmap(q.source.address());
  const auto* d = set(dst.is_v4() ? destination_v4_.find(dst.to_v4().to_uint())
                                  : destination_v6_.find(net::to_integer(dst.to_v6())));
  const auto* s =
      set(src.is_v4() ? source_v4_.find(src.to_v4().to_uint()) : source_v6_.find(net::to_integer(src.to_v6())));
  const auto* p = set(port_.find(q.destination.port()));
  const auto* r = set(direction_[static_cast<std::size_t>(q.direction)]);
  const auto* h = set(without_hosts_);
  std::size_t best = actions_.size();
  for (std::size_t w = 0; w < words_; ++w) {
    if (auto match = d[w] & s[w] & p[w] & r[w] & h[w]) {
      best = w * 64 + static_cast<std::size_t>(std::countr_zero(match));
      break;
    }
  }
  // A rule with hosts can only win by coming before the first rule that matches without a name.
  if (!q.name.empty() && best > 0) {
    best = hosts_.first_rule(q.name, best, [&](std::size_t rule) {
      const auto w = rule / 64;
      return ((d[w] & s[w] & p[w] & r[w]) >> (rule % 64) & 1) != 0;
    });
  }
  if (best < actions_.size()) return {actions_[best], best};
  return {default_action_, std::nullopt};
}

std::string router::action_name(const route_action& action) const {
  if (action.kind == route_kind::upstream) {
    if (action.upstream < upstream_names_.size()) return "upstream " + upstream_names_[action.upstream];
    return fmt::format("upstream #{}", action.upstream);
  }
  return std::string(to_string(action.kind));
}

const std::string& router::route_name(const route_decision& decision) const {
  return decision.rule ? names_[*decision.rule] : names_.back();
}

std::string router::describe(const route_decision& decision) const {
  return fmt::format("{}: {}", route_name(decision), action_name(decision.action));
}

}  // namespace detour::route
