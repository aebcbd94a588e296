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

void add_route_families(metrics::families& out, std::span<const worker* const> workers, const snapshot& names) {
  const auto& routes = names.router.route_names();
  auto& active = add_family(out, "detour_connections_active",
                            "Connections open now (connecting or relaying), by route.", MetricType::Gauge);
  auto& closed = add_family(out, "detour_connections_closed_total",
                            "Connections closed, by route (none: refused before routing), result and reason.",
                            MetricType::Counter);
  auto& bytes =
      add_family(out, "detour_bytes_total", "Bytes relayed, counted as they move; up: client to upstream, down: back.",
                 MetricType::Counter);
  for (std::size_t r = 0; r < routes.size(); ++r) {
    add_value(active, {{"route", routes[r]}},
              total(workers, [r](const worker& w) { return w.metrics().route(r).active.get(); }));
    add_closed(
        closed, workers, &routes[r], [r](const worker& w) -> const auto& { return w.metrics().route(r).closed; });
    add_value(bytes, {{"route", routes[r]}, {"direction", "up"}},
              total(workers, [r](const worker& w) { return w.metrics().route(r).bytes.up.get(); }));
    add_value(bytes, {{"route", routes[r]}, {"direction", "down"}},
              total(workers, [r](const worker& w) { return w.metrics().route(r).bytes.down.get(); }));
  }
  add_closed(
      closed, workers, nullptr, [](const worker& w) -> const auto& { return w.metrics().unrouted_closed; });
}

void add_upstream_families(metrics::families& out, std::span<const worker* const> workers, const snapshot& names) {
  auto& connect = add_family(out, "detour_upstream_connect_seconds",
                             "Time to connect to the destination (direct) or through the upstream, handshake included.",
                             MetricType::Histogram);
  auto& failures = add_family(out, "detour_upstream_failures_total",
                              "Connects that failed, by upstream (direct: no proxy) and reason.", MetricType::Counter);
  const auto count = names.cfg.upstreams.size() + 1;
  for (std::size_t u = 0; u < count; ++u) {
    const std::string name = u < names.cfg.upstreams.size() ? names.cfg.upstreams[u].name : "direct";
    metrics::histogram_total h(metrics::connect_buckets);
    for (const auto* w : workers) h.add(w->metrics().upstream(u).connect_seconds);
    h.add_to(connect, {{"upstream", name}});
    for (std::size_t k = 1; k < failure_kind_count; ++k) {
      add_value(failures,
                {{"upstream", name}, {"reason", std::string(to_string(static_cast<upstream::failure_kind>(k)))}},
                total(workers, [u, k](const worker& w) { return w.metrics().upstream(u).failures[k].get(); }));
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

}  // namespace

void add_proxy_families(metrics::families& out, std::span<const worker* const> workers, const snapshot& names) {
  add_value(add_family(out, "detour_connections_accepted_total", "Connections accepted from the redirect rules.",
                       MetricType::Counter),
            {}, total(workers, [](const worker& w) { return w.stats().accepted.get(); }));
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
  add_value(add_family(out, "detour_access_log_dropped_total",
                       "Access log lines dropped because the writer could not keep up.", MetricType::Counter),
            {}, total(workers, [](const worker& w) { return w.access_log_dropped(); }));
  add_value(
      add_family(out, "detour_pipes_in_use", "Kernel pipes held by relays with bytes in flight.", MetricType::Gauge),
      {}, total(workers, [](const worker& w) { return w.pipes().in_use().get(); }));
}

}  // namespace detour::proxy
