#include "detour/proxy/worker_metrics.hpp"

#include <algorithm>
#include <cerrno>

namespace detour::proxy {

std::size_t word_index(std::span<const std::string_view> words, std::string_view word) {
  const auto it = std::find(words.begin(), words.end(), word);
  return it == words.end() ? words.size() - 1 : static_cast<std::size_t>(it - words.begin());
}

std::size_t accept_errno_index(int error) {
  switch (error) {
    case EMFILE:
      return 0;
    case ENFILE:
      return 1;
    case ENOBUFS:
      return 2;
    case ENOMEM:
      return 3;
    default:
      return std::size(accept_errno_words) - 1;
  }
}

void worker_metrics::reserve(const snapshot& s) {
  const auto top = [](const std::vector<std::size_t>& slots) {
    return slots.empty() ? 0 : *std::max_element(slots.begin(), slots.end()) + 1;
  };
  routes_.reserve(top(s.route_slots));
  upstreams_.reserve(top(s.upstream_slots));
}

}  // namespace detour::proxy
