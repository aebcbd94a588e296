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

worker_metrics::worker_metrics(const snapshot& s)
    : route_count_(s.router.route_names().size()),
      routes_(std::make_unique<route_metrics[]>(route_count_)),
      upstream_count_(s.cfg.upstreams.size() + 1),
      upstreams_(std::make_unique<upstream_metrics[]>(upstream_count_)) {}

}  // namespace detour::proxy
