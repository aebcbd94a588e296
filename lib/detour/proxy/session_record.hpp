#pragma once
#include "detour/proxy/admission.hpp"
#include "detour/proxy/snapshot.hpp"
#include "detour/proxy/stats.hpp"
#include "detour/route/router.hpp"
#include "detour/upstream/failure_kind.hpp"

#include <boost/asio/ip/tcp.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>

namespace detour::proxy {

// How a connection ended; each exit of a session is exactly one of these.
enum class outcome : std::uint8_t {
  not_redirected,     // made to our port directly, or no original destination: reset, never forwarded
  loop,               // the original destination is our own listener: reset
  over_limit,         // over max_connections or max_connections_per_source at accept: reset
  rejected,           // a reject route: reset
  echoed,             // answered with the echo line or JSON
  connect_failed,     // the connect or the upstream handshake failed (or shutdown cancelled it): reset
  early_data_failed,  // the proxy's early bytes could not be written to the client
  relayed,            // relayed until both directions ended, or until the relay was ended
};

// Where the server name of a connection came from: the TLS ClientHello's server_name, the same
// when the ClientHello also carries encrypted_client_hello (then the name is the outer, public one
// the client chose to show, not the server it means), or the HTTP/1 Host header.
enum class name_origin : std::uint8_t { none, tls_sni, tls_ech_outer, http_host };

// "sni", "sni_ech_outer", "host"; "" for none.
std::string_view to_string(name_origin o);

// Which side ended a relayed connection first.
enum class closer : std::uint8_t { none, client, upstream, proxy };

// Everything known about one connection, filled in along its walk (accept, original destination,
// route, connect, relay) and read once, by finish(). One record per connection, whatever path it
// takes; move-only, since it holds the connection's admission ticket.
struct session_record {
  using clock = std::chrono::steady_clock;

  std::uint64_t id = 0;  // unique in this process, from the worker that accepted it
  clock::time_point start = clock::now();
  // When the destination (or the upstream's handshake) answered; unset if it never did.
  std::optional<clock::time_point> connected;
  boost::asio::ip::tcp::endpoint source;
  boost::asio::ip::tcp::endpoint local;  // where it arrived: our listener
  std::optional<boost::asio::ip::tcp::endpoint> original;
  std::error_code original_error;  // why there is no original destination
  traffic_direction direction = traffic_direction::outbound;
  // The server name read from the client's first bytes, normalized (lower case, no trailing dot);
  // empty when none was sniffed.
  std::string server_name;
  name_origin name_from = name_origin::none;
  // The config the session runs under, from accept to end: its router made `decision`.
  snapshot_ptr snapshot;
  std::optional<route::route_decision> decision;                  // empty until routed
  std::string via;                                                // "direct", "socks5 corp (10.0.0.1:1080)"
  std::optional<boost::asio::ip::tcp::endpoint> server;           // the upstream proxy server used
  upstream::failure_kind failure = upstream::failure_kind::none;  // why the connect failed
  std::uint64_t bytes_up = 0;                                     // client -> upstream
  std::uint64_t bytes_down = 0;                                   // upstream -> client
  // Why it ended: "eof", "client reset", "idle timeout", "shutdown", the connect failure...
  std::string reason;
  closer closed_by = closer::none;
  // The connection's place in the admission counts, given back when the record goes, after
  // finish(); empty for one refused by a limit.
  admission_ticket ticket;
};

// The access log's and the metrics' `result`: relayed, refused, rejected, echoed, connect_failed.
// Early-data failures are `relayed`: the handshake succeeded and the first bytes to relay were
// the proxy's, which the client did not take.
std::string_view result_of(outcome how);

// The `reason` as a bounded word, for a metric label: eof, client reset, client error, upstream
// reset, upstream error, idle timeout, shutdown, admin, not redirected, loop, limit, echoed,
// rejected, or for a failed connect its failure kind ("refused", "timeout", "no descriptors",
// "conntrack full", ...). The access log has the full text where there is one (record.reason).
std::string_view reason_label(const session_record& record, outcome how);

class worker;

// Where every session ends: one log line and one set of counter updates per connection, on every
// path, into the sinks of the worker it ran on. Nothing else in a session logs its end or counts it.
void finish(const session_record& record, outcome how, worker& owner);

}  // namespace detour::proxy
