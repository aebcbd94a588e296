#include "detour/route/host_matcher.hpp"

#include <algorithm>
#include <deque>
#include <unordered_map>
#include <utility>

namespace detour::route {
namespace {

// (owner, rule) pairs, sorted and deduplicated into runs of `lists`: each owner's rules ascending,
// which is the order first-match visits them in. Calls assign(owner, list index) per run.
template <typename Assign>
void flatten(std::vector<std::pair<std::uint64_t, std::uint32_t>>& owners, std::vector<std::uint32_t>& lists,
             const Assign& assign) {
  std::sort(owners.begin(), owners.end());
  owners.erase(std::unique(owners.begin(), owners.end()), owners.end());
  for (std::size_t i = 0; i < owners.size();) {
    const auto owner = owners[i].first;
    const auto start = static_cast<std::uint32_t>(lists.size());
    lists.push_back(0);
    for (; i < owners.size() && owners[i].first == owner; ++i) {
      lists.push_back(owners[i].second);
      ++lists[start];
    }
    assign(owner, start);
  }
}

}  // namespace

host_matcher::host_matcher(const std::vector<route_rule>& rules) {
  nodes_.emplace_back();
  states_.emplace_back();
  slots_.assign(16, 0);
  slot_mask_ = slots_.size() - 1;

  auto place = [&](std::uint32_t index) {
    const auto& n = nodes_[index];
    auto i = hash(n.parent, std::string_view(labels_).substr(n.label, n.label_size)) & slot_mask_;
    while (slots_[i] != 0) i = (i + 1) & slot_mask_;
    slots_[i] = index + 1;
  };
  // Linear probing stays short while at most half the slots are taken.
  auto add_child = [&](std::uint32_t parent, std::string_view label) {
    auto found = child(parent, label);
    if (found != none) return found;
    const auto index = static_cast<std::uint32_t>(nodes_.size());
    nodes_.push_back({parent, static_cast<std::uint32_t>(labels_.size()), static_cast<std::uint32_t>(label.size())});
    labels_.append(label);
    if (nodes_.size() * 2 > slots_.size()) {
      slots_.assign(slots_.size() * 2, 0);
      slot_mask_ = slots_.size() - 1;
      for (std::uint32_t n = 1; n < nodes_.size(); ++n) place(n);
    } else {
      place(index);
    }
    return index;
  };

  std::vector<std::pair<std::uint64_t, std::uint32_t>> trie_rules;     // (node * 2 + is_suffix, rule)
  std::vector<std::pair<std::uint64_t, std::uint32_t>> keyword_rules;  // (state, rule)
  std::unordered_map<std::uint64_t, std::uint32_t> keyword_edges;      // state << 8 | byte -> state
  auto add = [&](const net::host_pattern& p, std::uint32_t rule) {
    if (p.match == net::host_pattern::kind::keyword) {
      std::uint32_t s = 0;
      for (char c : p.text) {
        const auto key = std::uint64_t{s} << 8 | static_cast<unsigned char>(c);
        auto [it, inserted] = keyword_edges.try_emplace(key, static_cast<std::uint32_t>(states_.size()));
        if (inserted) states_.emplace_back();
        s = it->second;
      }
      keyword_rules.emplace_back(s, rule);
      return;
    }
    std::uint32_t at = 0;
    std::string_view name = p.text;
    while (!name.empty()) {
      const auto dot = name.rfind('.');
      at = add_child(at, dot == std::string_view::npos ? name : name.substr(dot + 1));
      name = dot == std::string_view::npos ? std::string_view() : name.substr(0, dot);
    }
    trie_rules.emplace_back(std::uint64_t{at} * 2 + (p.match == net::host_pattern::kind::suffix ? 1 : 0), rule);
  };
  for (std::size_t i = 0; i < rules.size(); ++i) {
    for (const auto& p : rules[i].hosts) add(p, static_cast<std::uint32_t>(i));
    for (const auto& p : rules[i].hosts_file.entries) add(p, static_cast<std::uint32_t>(i));
  }

  flatten(trie_rules, lists_, [&](std::uint64_t owner, std::uint32_t list) {
    auto& n = nodes_[owner / 2];
    (owner % 2 == 1 ? n.suffix : n.exact) = list;
  });
  flatten(keyword_rules, lists_, [&](std::uint64_t owner, std::uint32_t list) { states_[owner].output = list; });
  if (states_.size() <= 1) return;

  // The automaton: edges grouped by state, then failure links breadth-first, since a state's link
  // is found from its parent's, one level up.
  edges_.reserve(keyword_edges.size());
  std::vector<std::pair<std::uint64_t, std::uint32_t>> sorted(keyword_edges.begin(), keyword_edges.end());
  std::sort(sorted.begin(), sorted.end());
  root_next_.assign(256, 0);
  for (const auto& [key, target] : sorted) {
    const auto from = static_cast<std::uint32_t>(key >> 8);
    const auto byte = static_cast<unsigned char>(key & 0xff);
    auto& st = states_[from];
    if (st.edge_count == 0) st.edges = static_cast<std::uint32_t>(edges_.size());
    ++st.edge_count;
    edges_.push_back({target, byte});
    if (from == 0) root_next_[byte] = target;
  }
  std::deque<std::uint32_t> queue;
  for (auto e = states_[0].edges; e < states_[0].edges + states_[0].edge_count; ++e) queue.push_back(edges_[e].target);
  while (!queue.empty()) {
    const auto s = queue.front();
    queue.pop_front();
    const auto& st = states_[s];
    for (auto e = st.edges; e < st.edges + st.edge_count; ++e) {
      const auto t = edges_[e].target;
      auto& next = states_[t];
      next.fail = s == 0 ? 0 : step(st.fail, edges_[e].byte);
      const auto& f = states_[next.fail];
      next.next_output = f.output != none ? next.fail : f.next_output;
      queue.push_back(t);
    }
  }
}

}  // namespace detour::route
