#include "detour/proxy/proxy_metrics.hpp"

#include "detour/proxy/worker.hpp"

#include <array>
#include <string>
#include <vector>

namespace detour::proxy {

namespace {

using metrics::add_family;
using metrics::add_value;
using prometheus::MetricType;

// Adds up one counter over the workers.
template <typename Get>
double total(std::span<const worker* const> workers, Get get) {
  double sum = 0;
  for (const auto* w : workers) sum += static_cast<double>(get(*w));
  return sum;
}

// Nonzero result and reason pairs only: most of the pairs never happen.
void add_closed(prometheus::MetricFamily& f, std::span<const worker* const> workers, const std::string* route,
                auto closed_of) {
  for (std::size_t res = 0; res < std::size(result_words); ++res) {
    for (std::size_t why = 0; why < std::size(reason_words); ++why) {
      const double n = total(workers, [&](const worker& w) { return closed_of(w).get(res, why); });
      if (n == 0) continue;
      metrics::labels l;
      if (route != nullptr) l.push_back({"route", *route});
      l.push_back({"result", std::string(result_words[res])});
      l.push_back({"reason", std::string(reason_words[why])});
      add_value(f, std::move(l), n);
    }
  }
}

// A slot's counters summed over the workers that have it.
template <typename Find, typename Get>
double slot_total(std::span<const worker* const> workers, Find find, Get get) {
  double sum = 0;
  for (const auto* w : workers) {
    if (const auto* m = find(*w)) sum += static_cast<double>(get(*m));
  }
  return sum;
}

void add_route_families(metrics::families& out, std::span<const worker* const> workers, const metric_registry& names) {
  const auto routes = names.routes.names();
  auto& active = add_family(out, "detour_connections_active",
                            "Connections open now (connecting or relaying), by route.", MetricType::Gauge);
  auto& closed = add_family(out, "detour_connections_closed_total",
                            "Connections closed, by route (none: refused before routing), result and reason.",
                            MetricType::Counter);
  auto& bytes =
      add_family(out, "detour_bytes_total", "Bytes relayed, counted as they move; up: client to upstream, down: back.",
                 MetricType::Counter);
  static const route_metrics none{};
  for (std::size_t r = 0; r < routes.size(); ++r) {
    const auto find = [r](const worker& w) { return w.metrics().find_route(r); };
    add_value(active, {{"route", routes[r]}},
              slot_total(workers, find, [](const route_metrics& m) { return m.active.get(); }));
    add_closed(
        closed, workers, &routes[r], [&](const worker& w) -> const auto& {
          const auto* m = find(w);
          return (m != nullptr ? *m : none).closed;
        });
    add_value(bytes, {{"route", routes[r]}, {"direction", "up"}},
              slot_total(workers, find, [](const route_metrics& m) { return m.bytes.up.get(); }));
    add_value(bytes, {{"route", routes[r]}, {"direction", "down"}},
              slot_total(workers, find, [](const route_metrics& m) { return m.bytes.down.get(); }));
  }
  add_closed(
      closed, workers, nullptr, [](const worker& w) -> const auto& { return w.metrics().unrouted_closed; });
}

void add_upstream_families(metrics::families& out, std::span<const worker* const> workers,
                           const metric_registry& names) {
  auto& connect = add_family(out, "detour_upstream_connect_seconds",
                             "Time to connect to the destination (direct) or through the upstream, handshake included.",
                             MetricType::Histogram);
  auto& failures = add_family(out, "detour_upstream_failures_total",
                              "Connects that failed, by upstream (direct: no proxy) and reason.", MetricType::Counter);
  const auto upstreams = names.upstreams.names();
  for (std::size_t u = 0; u < upstreams.size(); ++u) {
    const auto find = [u](const worker& w) { return w.metrics().find_upstream(u); };
    metrics::histogram_total h(metrics::connect_buckets);
    for (const auto* w : workers) {
      if (const auto* m = find(*w)) h.add(m->connect_seconds);
    }
    h.add_to(connect, {{"upstream", upstreams[u]}});
    for (std::size_t k = 1; k < failure_kind_count; ++k) {
      add_value(
          failures,
          {{"upstream", upstreams[u]}, {"reason", std::string(to_string(static_cast<upstream::failure_kind>(k)))}},
          slot_total(workers, find, [k](const upstream_metrics& m) { return m.failures[k].get(); }));
    }
  }
}

// A family with one sample per word of `words`.
template <std::size_t N>
void add_by_word(metrics::families& out, const char* name, const char* help, const char* label,
                 const std::array<std::string_view, N>& words, std::span<const worker* const> workers, auto get) {
  auto& f = add_family(out, name, help, MetricType::Counter);
  for (std::size_t i = 0; i < N; ++i) {
    add_value(f, {{label, std::string(words[i])}}, total(workers, [&](const worker& w) { return get(w)[i].get(); }));
  }
}

// What the relays move bytes through, and how often the kernel would not give them pipes.
void add_relay_pool_families(metrics::families& out, std::span<const worker* const> workers) {
  add_value(
      add_family(out, "detour_pipes_in_use", "Kernel pipes held by relays with bytes in flight.", MetricType::Gauge),
      {}, total(workers, [](const worker& w) { return w.pools().pipes.in_use().get(); }));
  add_value(add_family(out, "detour_pipe_bytes", "What the pipes detourd holds (in use and idle) can hold, in bytes.",
                       MetricType::Gauge),
            {}, total(workers, [](const worker& w) { return w.pools().pipes.bytes().get(); }));
  add_value(add_family(out, "detour_pipes_shrunk_total",
                       "Pipes the kernel made smaller than asked (F_SETPIPE_SZ refused: fs.pipe-user-pages-soft).",
                       MetricType::Counter),
            {}, total(workers, [](const worker& w) { return w.pools().pipes.shrunk().get(); }));
  add_value(add_family(out, "detour_relay_copy_fallbacks_total",
                       "Times a relay direction copied through a user-space buffer because pipe2() failed.",
                       MetricType::Counter),
            {}, total(workers, [](const worker& w) { return w.pools().copy_fallbacks.get(); }));
  add_value(add_family(out, "detour_copy_buffers_in_use", "Copy buffers held by relay directions without a pipe.",
                       MetricType::Gauge),
            {}, total(workers, [](const worker& w) { return w.pools().buffers.in_use().get(); }));
}

}  // namespace

void add_proxy_families(metrics::families& out, std::span<const worker* const> workers, const metric_registry& names) {
  add_value(add_family(out, "detour_connections_accepted_total", "Connections accepted from the redirect rules.",
                       MetricType::Counter),
            {}, total(workers, [](const worker& w) { return w.stats().accepted.get(); }));
  {
    auto& by_direction = add_family(out, "detour_connections_accepted_by_direction_total",
                                    "Connections accepted, by the hook that captured them: outbound (nat output) "
                                    "or inbound (nat prerouting).",
                                    MetricType::Counter);
    const auto inbound = total(workers, [](const worker& w) { return w.stats().accepted_inbound.get(); });
    const auto all = total(workers, [](const worker& w) { return w.stats().accepted.get(); });
    add_value(by_direction, {{"direction", "outbound"}}, all - inbound);
    add_value(by_direction, {{"direction", "inbound"}}, inbound);
  }
  add_route_families(out, workers, names);
  add_upstream_families(out, workers, names);
  metrics::histogram_total duration(metrics::duration_buckets);
  for (const auto* w : workers) duration.add(w->metrics().duration_seconds);
  duration.add_to(add_family(out, "detour_connection_duration_seconds", "Connection lifetime, accept to close.",
                             MetricType::Histogram),
                  {});
  add_by_word(
      out, "detour_connections_refused_total", "Connections reset before routing, by reason.", "reason",
      std::to_array(refused_words), workers, [](const worker& w) -> const auto& { return w.metrics().refused; });
  add_by_word(
      out, "detour_accept_errors_total", "Failed accepts, by errno.", "errno", std::to_array(accept_errno_words),
      workers, [](const worker& w) -> const auto& { return w.metrics().accept_errors; });
  add_by_word(
      out, "detour_sniff_total",
      "Connections to a sniff port whose first bytes were read for the server name, by how that ended.", "result",
      std::to_array(sniff_outcome_words), workers, [](const worker& w) -> const auto& { return w.metrics().sniffed; });
  metrics::histogram_total sniff_wait(metrics::connect_buckets);
  for (const auto* w : workers) sniff_wait.add(w->metrics().sniff_seconds);
  sniff_wait.add_to(
      add_family(out, "detour_sniff_seconds", "How long connections waited for their first bytes before being routed.",
                 MetricType::Histogram),
      {});
  add_value(add_family(out, "detour_access_log_dropped_total",
                       "Access log lines dropped because the writer could not keep up.", MetricType::Counter),
            {}, total(workers, [](const worker& w) { return w.access_log_dropped(); }));
  add_relay_pool_families(out, workers);
}

}  // namespace detour::proxy
