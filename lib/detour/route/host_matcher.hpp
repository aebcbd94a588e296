#pragma once
#include "detour/config/config.hpp"

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace detour::route {

// The rules whose host patterns match a server name, for the router's host dimension.
//
// Exact and `*.` patterns live in one trie of labels read from the right (com, example, www), so
// a name costs one lookup per label until the trie has no deeper entry: a name under no listed
// domain is done after its top-level label, however many patterns there are. A node's children
// are not lists but entries of one open-addressing table keyed by (parent, label), which keeps
// 100 000 patterns in a few flat arrays. Keywords go through an Aho-Corasick automaton: one pass
// over the name, whatever their number.
//
// Every node and automaton state carries the sorted list of rules it matches; the caller asks for
// the lowest rule below a bound that its other dimensions admit, so a match can stop as soon as no
// lower rule is left to find. Nothing is allocated per lookup.
class host_matcher {
 public:
  host_matcher() = default;
  // Every rule's `hosts` and `hosts_file` entries; rule i is the i-th of `rules`.
  explicit host_matcher(const std::vector<route_rule>& rules);

  bool empty() const { return nodes_.size() <= 1 && states_.size() <= 1; }

  // The lowest rule below `limit` that a pattern matching `name` belongs to and that `admits(rule)`
  // accepts, or `limit` when there is none. `name` is lower-case without a trailing dot.
  template <typename Admits>
  std::size_t first_rule(std::string_view name, std::size_t limit, const Admits& admits) const;

  // Sizes, for the benchmark's report.
  std::size_t trie_nodes() const { return nodes_.size(); }
  std::size_t keyword_states() const { return states_.size(); }

 private:
  static constexpr std::uint32_t none = 0xffffffff;

  struct node {
    std::uint32_t parent = none;
    std::uint32_t label = 0;  // offset into labels_
    std::uint32_t label_size = 0;
    std::uint32_t exact = none;   // rule list of the patterns naming exactly this node's name
    std::uint32_t suffix = none;  // rule list of the `*.` patterns for it
  };
  struct state {
    std::uint32_t fail = 0;
    std::uint32_t edges = 0;  // edges_[edges, edges + edge_count)
    std::uint32_t edge_count = 0;
    std::uint32_t output = none;       // rule list of the keywords ending here
    std::uint32_t next_output = none;  // the nearest state along `fail` with an output
  };
  struct edge {
    std::uint32_t target;
    unsigned char byte;
  };

  static std::uint64_t hash(std::uint32_t parent, std::string_view label);
  std::uint32_t child(std::uint32_t parent, std::string_view label) const;
  std::uint32_t step(std::uint32_t s, unsigned char byte) const;

  // Sets `best` to the first rule of list `list` below it that `admits` accepts, if any.
  template <typename Admits>
  void visit(std::uint32_t list, std::size_t& best, const Admits& admits) const {
    const auto count = lists_[list];
    for (std::uint32_t k = 1; k <= count; ++k) {
      const std::size_t rule = lists_[list + k];
      if (rule >= best) return;
      if (admits(rule)) {
        best = rule;
        return;
      }
    }
  }

  // Trie: nodes_[0] is the root, the empty name.
  std::vector<node> nodes_;
  std::string labels_;
  std::vector<std::uint32_t> slots_;  // node index + 1; 0: empty
  std::uint64_t slot_mask_ = 0;
  // Keywords: states_[0] is the root, whose transitions are a full table.
  std::vector<state> states_;
  std::vector<edge> edges_;
  std::vector<std::uint32_t> root_next_;  // 256 entries once there is a keyword
  // Rule lists: a count, then that many rule indexes in increasing order.
  std::vector<std::uint32_t> lists_;
};

inline std::uint64_t host_matcher::hash(std::uint32_t parent, std::string_view label) {
  // Labels are short; eight bytes at a time, each step a multiply and a shift.
  std::uint64_t h = (std::uint64_t{parent} << 8 | label.size()) * 0x9e3779b97f4a7c15ULL;
  const char* p = label.data();
  std::size_t n = label.size();
  for (; n >= 8; p += 8, n -= 8) {
    std::uint64_t w = 0;
    std::memcpy(&w, p, 8);
    h = (h ^ w) * 0xbf58476d1ce4e5b9ULL;
    h ^= h >> 31;
  }
  if (n > 0) {
    std::uint64_t w = 0;
    std::memcpy(&w, p, n);
    h = (h ^ w) * 0xbf58476d1ce4e5b9ULL;
  }
  h ^= h >> 29;
  h *= 0x94d049bb133111ebULL;
  return h ^ (h >> 32);
}

inline std::uint32_t host_matcher::child(std::uint32_t parent, std::string_view label) const {
  for (auto i = hash(parent, label) & slot_mask_;; i = (i + 1) & slot_mask_) {
    const auto slot = slots_[i];
    if (slot == 0) return none;
    const auto& n = nodes_[slot - 1];
    if (n.parent == parent && n.label_size == label.size() &&
        std::memcmp(labels_.data() + n.label, label.data(), label.size()) == 0) {
      return slot - 1;
    }
  }
}

inline std::uint32_t host_matcher::step(std::uint32_t s, unsigned char byte) const {
  while (s != 0) {
    const auto& st = states_[s];
    for (auto e = st.edges; e < st.edges + st.edge_count; ++e) {
      if (edges_[e].byte == byte) return edges_[e].target;
    }
    s = st.fail;
  }
  return root_next_[byte];
}

template <typename Admits>
std::size_t host_matcher::first_rule(std::string_view name, std::size_t limit, const Admits& admits) const {
  std::size_t best = limit;
  if (nodes_.size() > 1) {
    std::uint32_t at = 0;
    auto end = name.size();
    while (best > 0) {
      const auto dot = end == 0 ? std::string_view::npos : name.rfind('.', end - 1);
      const auto begin = dot == std::string_view::npos ? 0 : dot + 1;
      at = child(at, name.substr(begin, end - begin));
      if (at == none) break;
      const auto& n = nodes_[at];
      if (n.suffix != none) visit(n.suffix, best, admits);
      if (dot == std::string_view::npos) {
        if (n.exact != none) visit(n.exact, best, admits);
        break;
      }
      end = dot;
    }
  }
  if (states_.size() > 1) {
    std::uint32_t s = 0;
    for (std::size_t i = 0; i < name.size() && best > 0; ++i) {
      s = step(s, static_cast<unsigned char>(name[i]));
      for (auto o = states_[s].output != none ? s : states_[s].next_output; o != none; o = states_[o].next_output) {
        visit(states_[o].output, best, admits);
      }
    }
  }
  return best;
}

}  // namespace detour::route
