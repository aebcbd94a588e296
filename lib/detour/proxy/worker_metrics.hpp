#pragma once
#include "detour/metrics/counter.hpp"
#include "detour/metrics/histogram.hpp"
#include "detour/proxy/snapshot.hpp"
#include "detour/relay/byte_counters.hpp"
#include "detour/upstream/failure_kind.hpp"

#include <array>
#include <cstddef>
#include <memory>
#include <span>
#include <string_view>

namespace detour::proxy {

// Every value the `result` and `reason` labels can take. Fixed lists keep a worker's counters in
// arrays (no map, no allocation, no lock on the data path) and the label set bounded.
inline constexpr std::string_view result_words[] = {"relayed", "refused", "rejected", "echoed", "connect_failed"};
inline constexpr std::string_view reason_words[] = {
    "eof",           "client reset", "client error",   "upstream reset", "upstream error", "idle timeout",
    "shutdown",      "admin",        "no descriptors", "pipe error",     "not redirected", "loop",
    "limit",         "echoed",       "rejected",       "timeout",        "refused",        "unreachable",
    "proxy refused", "proxy error",  "local",          "cancelled",      "error",          "other"};
// The `reason` of detour_connections_refused_total: connections never routed.
inline constexpr std::string_view refused_words[] = {"not redirected", "loop", "limit"};
// The `errno` of detour_accept_errors_total.
inline constexpr std::string_view accept_errno_words[] = {"EMFILE", "ENFILE", "ENOBUFS", "ENOMEM", "other"};
inline constexpr std::size_t failure_kind_count = static_cast<std::size_t>(upstream::failure_kind::other) + 1;

// Index of `word` in `words`; the last index (the catch-all) when it is not there.
std::size_t word_index(std::span<const std::string_view> words, std::string_view word);
std::size_t accept_errno_index(int error);

// Connections closed, by result and reason.
struct closed_counters {
  std::array<metrics::counter, std::size(result_words) * std::size(reason_words)> by_result_reason;

  static constexpr std::size_t index(std::size_t result, std::size_t reason) {
    return result * std::size(reason_words) + reason;
  }
  void add(std::string_view result, std::string_view reason) {
    by_result_reason[index(word_index(result_words, result), word_index(reason_words, reason))].add();
  }
  std::uint64_t get(std::size_t result, std::size_t reason) const {
    return by_result_reason[index(result, reason)].get();
  }
};

struct route_metrics {
  metrics::gauge active;
  relay::byte_counters bytes;
  closed_counters closed;
};

struct upstream_metrics {
  metrics::histogram connect_seconds{metrics::connect_buckets};
  std::array<metrics::counter, failure_kind_count> failures;  // by upstream::failure_kind
};

// What one worker measures for Prometheus, beside its plain stats: written by the worker thread
// only, read by the scrape (which adds up the workers). Sized from the snapshot the worker starts
// with: one entry per route (the default last) and per upstream (direct last).
class worker_metrics {
 public:
  explicit worker_metrics(const snapshot& s);

  std::size_t route_count() const { return route_count_; }
  route_metrics& route(std::size_t i) { return routes_[i]; }
  const route_metrics& route(std::size_t i) const { return routes_[i]; }
  route_metrics& route(const route::route_decision& d) { return routes_[d.rule ? *d.rule : route_count_ - 1]; }

  std::size_t upstream_count() const { return upstream_count_; }
  upstream_metrics& upstream(std::size_t i) { return upstreams_[i]; }
  const upstream_metrics& upstream(std::size_t i) const { return upstreams_[i]; }
  // The upstream a direct or upstream action connects through; direct is the last entry.
  upstream_metrics& upstream(const route_action& a) {
    return upstreams_[a.kind == route_kind::upstream ? a.upstream : upstream_count_ - 1];
  }

  closed_counters unrouted_closed;  // refused before any route was chosen
  std::array<metrics::counter, std::size(refused_words)> refused;
  std::array<metrics::counter, std::size(accept_errno_words)> accept_errors;
  metrics::histogram duration_seconds{metrics::duration_buckets};

 private:
  std::size_t route_count_;
  std::unique_ptr<route_metrics[]> routes_;
  std::size_t upstream_count_;
  std::unique_ptr<upstream_metrics[]> upstreams_;
};

}  // namespace detour::proxy
