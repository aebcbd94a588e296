#pragma once
// Thousands of peers that get a relayed connection stuck, each in one of the ways a real peer
// does (a client that never reads, an upstream that never answers, a half-close never finished),
// all driven by one poll loop in the test process, so they really are stuck at the same moment.
#include "support/tcp.hpp"

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace detour::test {

enum class stuck_kind : std::uint8_t {
  client_never_reads,    // the upstream sends without end; the client reads nothing
  upstream_never_reads,  // the client sends without end; the upstream reads nothing
  client_silent,         // the client connects and sends nothing; the upstream waits too
  proxy_silent,          // a SOCKS5 upstream accepts, reads the greeting and never answers
  never_accepted,        // the destination never answers the SYN (the test drops it)
  client_half_closed,    // the client sends and half-closes; the upstream reads that EOF and never closes
  upstream_half_closed,  // the upstream sends and half-closes; the client reads that EOF and never closes
};
inline constexpr std::size_t stuck_kind_count = 7;
std::string_view to_string(stuck_kind kind);

struct stuck_peer_result {
  stuck_kind kind;
  std::uint16_t source_port;  // the client's; detourd may see another (the redirect can remap it)
  endpoint destination;       // where the client connected: each kind has its own
  // How the client's connection ended: "reset", "eof", "connect: REASON", another errno's text,
  // or "open" when it had not ended by the deadline.
  std::string end;
};

struct stuck_peer_run {
  std::vector<stuck_peer_result> peers;
  // True when every peer was in its stuck state (see stuck_kind, and peer_is_stuck in the .cpp)
  // at one moment, before any had ended.
  bool all_stuck_at_once = false;
  std::size_t most_stuck = 0;    // how many were stuck at once, at most, before the first ended
  std::uint64_t bytes_sent = 0;  // by the senders nobody reads, until everything in between was full
};

class stuck_peer_load {
 public:
  // One listener per kind with an upstream here, on `upstream_address` (port 0), but for the silent
  // SOCKS5 proxy's, on `proxy_address`. proxy_silent clients connect to `proxy_route` (the config
  // must route it through that proxy), never_accepted clients to `unanswered`.
  stuck_peer_load(std::string_view upstream_address, std::string_view proxy_address, endpoint proxy_route,
                  endpoint unanswered);

  std::uint16_t proxy_port() const { return listeners_[static_cast<std::size_t>(stuck_kind::proxy_silent)].port; }
  void add(stuck_kind kind, std::size_t count);

  // Opens every peer (at most 128 connects in flight at once) and drives them all until every
  // client's connection has ended, or `timeout`.
  stuck_peer_run run(std::chrono::milliseconds timeout);

 private:
  struct listener {
    socket_fd fd;
    std::uint16_t port = 0;
  };

  // By kind; never_accepted has none.
  std::array<listener, stuck_kind_count> listeners_;
  endpoint proxy_route_;
  endpoint unanswered_;
  std::vector<stuck_kind> planned_;
};

}  // namespace detour::test
