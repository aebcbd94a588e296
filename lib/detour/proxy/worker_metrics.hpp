#pragma once
#include "detour/metrics/counter.hpp"
#include "detour/metrics/histogram.hpp"
#include "detour/metrics/slot_array.hpp"
#include "detour/proxy/name_sniff.hpp"
#include "detour/proxy/snapshot.hpp"
#include "detour/relay/byte_counters.hpp"
#include "detour/upstream/failure_kind.hpp"

#include <array>
#include <cstddef>
#include <span>
#include <string_view>

namespace detour::proxy {

// Every value the `result` and `reason` labels can take. Fixed lists keep a worker's counters in
// arrays (no map, no allocation, no lock on the data path) and the label set bounded.
inline constexpr std::string_view result_words[] = {"relayed", "refused", "rejected", "echoed", "connect_failed"};
inline constexpr std::string_view reason_words[] = {
    "eof",         "client reset", "client error",   "upstream reset", "upstream error", "idle timeout",
    "shutdown",    "admin",        "no descriptors", "not redirected", "loop",           "limit",
    "echoed",      "rejected",     "timeout",        "refused",        "unreachable",    "proxy refused",
    "proxy error", "local",        "no local ports", "conntrack full", "cancelled",      "error",
    "other"};
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
// only, read by the scrape (which adds up the workers). Routes and upstreams are counted by metric
// slot (see metric_names), so sessions of the snapshot before a reload and of the one after it
// count into the same place when a name stays.
class worker_metrics {
 public:
  // Makes the slots of `s` exist; on the worker's thread (or before it starts), before the first
  // session of `s`.
  void reserve(const snapshot& s);

  route_metrics& route(const snapshot& s, const route::route_decision& d) { return routes_[s.route_slot(d)]; }
  upstream_metrics& upstream(const snapshot& s, const route_action& a) { return upstreams_[s.upstream_slot(a)]; }
  // Any thread: the counters of a slot, nullptr while this worker has none for it.
  const route_metrics* find_route(std::size_t slot) const { return routes_.find(slot); }
  const upstream_metrics* find_upstream(std::size_t slot) const { return upstreams_.find(slot); }

  closed_counters unrouted_closed;  // refused before any route was chosen
  std::array<metrics::counter, std::size(refused_words)> refused;
  std::array<metrics::counter, std::size(accept_errno_words)> accept_errors;
  metrics::histogram duration_seconds{metrics::duration_buckets};
  // Server name sniffs, by how they ended (sniff_outcome), and how long each held its connection.
  std::array<metrics::counter, std::size(sniff_outcome_words)> sniffed;
  metrics::histogram sniff_seconds{metrics::connect_buckets};

 private:
  metrics::slot_array<route_metrics> routes_;
  metrics::slot_array<upstream_metrics> upstreams_;
};

}  // namespace detour::proxy
