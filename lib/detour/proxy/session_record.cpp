#include "detour/proxy/session_record.hpp"

#include "detour/net/sockaddr.hpp"
#include "detour/proxy/worker.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <iterator>

namespace detour::proxy {

namespace {

double seconds(session_record::clock::time_point from, session_record::clock::time_point to) {
  return std::chrono::duration<double>(to - from).count();
}

// The Prometheus side: by route, result and reason; upstream failures; refusals; the duration.
void measure(const session_record& r, outcome how, double lifetime, worker_metrics& m) {
  const auto result = result_of(how);
  const auto reason = reason_label(r, how);
  m.duration_seconds.observe(lifetime);
  if (!r.decision) {
    m.unrouted_closed.add(result, reason);
    m.refused[word_index(refused_words, reason)].add();
    return;
  }
  auto& route = m.route(*r.snapshot, *r.decision);
  route.active.sub();
  route.closed.add(result, reason);
  if (how == outcome::connect_failed)
    m.upstream(*r.snapshot, r.decision->action).failures[static_cast<std::size_t>(r.failure)].add();
}

// " inbound", " sni=www.example.com", " inbound host=example.org", or "".
std::string context_tags(const session_record& r) {
  std::string out;
  if (r.direction == traffic_direction::inbound) out = " inbound";
  if (!r.server_name.empty()) fmt::format_to(std::back_inserter(out), " {}={}", to_string(r.name_from), r.server_name);
  return out;
}

void count(const session_record& r, outcome how, stats& counters) {
  switch (how) {
    case outcome::not_redirected:
      counters.not_redirected.add();
      break;
    case outcome::loop:
      counters.loops.add();
      break;
    case outcome::over_limit:
      counters.limited.add();
      break;
    case outcome::rejected:
      counters.rejected.add();
      break;
    case outcome::echoed:
      counters.echoed.add();
      break;
    case outcome::connect_failed:
      counters.upstream_failures.add();
      break;
    case outcome::early_data_failed:
      counters.early_data_failures.add();
      break;
    case outcome::relayed:
      counters.relayed.add();
      counters.bytes_up.add(r.bytes_up);
      counters.bytes_down.add(r.bytes_down);
      break;
  }
}

}  // namespace

std::string_view to_string(name_origin o) {
  switch (o) {
    case name_origin::tls_sni:
      return "sni";
    case name_origin::tls_ech_outer:
      return "sni_ech_outer";
    case name_origin::http_host:
      return "host";
    case name_origin::none:
      break;
  }
  return "";
}

std::string_view result_of(outcome how) {
  switch (how) {
    case outcome::not_redirected:
    case outcome::loop:
    case outcome::over_limit:
      return "refused";
    case outcome::rejected:
      return "rejected";
    case outcome::echoed:
      return "echoed";
    case outcome::connect_failed:
      return "connect_failed";
    case outcome::early_data_failed:
    case outcome::relayed:
      break;
  }
  return "relayed";
}

std::string_view reason_label(const session_record& r, outcome how) {
  switch (how) {
    case outcome::not_redirected:
      return "not redirected";
    case outcome::loop:
      return "loop";
    case outcome::over_limit:
      return "limit";
    case outcome::rejected:
      return "rejected";
    case outcome::echoed:
      return "echoed";
    case outcome::connect_failed:
      // The session's own words first: a drain or an admin reset ended the attempt.
      if (r.reason == "shutdown" || r.reason == "admin") return r.reason;
      return upstream::to_string(r.failure);
    case outcome::early_data_failed:
      return "client error";
    case outcome::relayed:
      break;
  }
  // The relay's reasons are fixed words already.
  if (r.reason.empty()) return "eof";
  return r.reason;
}

void finish(const session_record& r, outcome how, worker& owner) {
  count(r, how, owner.stats());
  // One clock read for the histogram and the log line.
  const auto lifetime = seconds(r.start, session_record::clock::now());
  measure(r, how, lifetime, owner.metrics());
  if (auto* log = owner.access_log()) log->add(r, how);
  if (how == outcome::over_limit) {
    // Refusals come in floods when a limit is reached: one line a second says enough.
    std::uint64_t suppressed = 0;
    if (spdlog::should_log(spdlog::level::warn) &&
        owner.admission().warning_due(session_record::clock::now(), suppressed)) {
      spdlog::warn(
          "session: [{} -> {}] reset: {}{}", net::to_string(r.source),
          r.original ? net::to_string(*r.original) : r.original_error.message(), r.reason,
          suppressed == 0 ? std::string() : fmt::format(" ({} more refused since the last warning)", suppressed));
    }
    return;
  }
  const auto level = how == outcome::loop ? spdlog::level::warn : spdlog::level::info;
  // The endpoints are formatted only for a line that is written: with logging at warn, a relayed
  // connection costs no string at all here.
  if (!spdlog::should_log(level)) return;
  const auto source = net::to_string(r.source);
  const auto destination = r.original ? net::to_string(*r.original) : r.original_error.message();
  // After the endpoints, so that "[source -> destination]" reads the same in every line: the
  // direction when it is inbound (outbound is the common case) and the sniffed name.
  const auto tags = context_tags(r);
  auto route = [&r] { return r.decision ? r.snapshot->router.describe(*r.decision) : std::string(); };
  switch (how) {
    case outcome::not_redirected:
      spdlog::info("session: [{} -> {}]{} refused: not redirected{}", source, net::to_string(r.local), tags,
                   r.original ? "" : fmt::format(" (SO_ORIGINAL_DST: {})", r.original_error.message()));
      return;
    case outcome::loop:
      spdlog::warn(
          "session: [{} -> {}]{} refused: loop (the original destination is detourd's own listener; are "
          "detourd's own connections excluded from the redirect rules?)",
          source, destination, tags);
      return;
    case outcome::over_limit:
      return;  // warned about above
    case outcome::rejected:
      spdlog::info("session: [{} -> {}]{} rejected ({})", source, destination, tags, route());
      return;
    case outcome::echoed:
      spdlog::info("session: [{} -> {}]{} echo closed{}", source, destination, tags,
                   r.decision ? " (" + route() + ")" : std::string());
      return;
    case outcome::connect_failed:
      spdlog::info("session: [{} -> {}]{} {} connect failed: {} {:.3f}s", source, destination, tags, r.via, r.reason,
                   lifetime);
      return;
    case outcome::early_data_failed:
      spdlog::info(
          "session: [{} -> {}]{} {} failed before relaying: writing the proxy's early data to the client: {} {:.3f}s",
          source, destination, tags, r.via, r.reason, lifetime);
      return;
    case outcome::relayed:
      spdlog::info("session: [{} -> {}]{} {} closed up={} down={} {:.3f}s reason={}", source, destination, tags, r.via,
                   r.bytes_up, r.bytes_down, lifetime, r.reason);
      return;
  }
}

}  // namespace detour::proxy
