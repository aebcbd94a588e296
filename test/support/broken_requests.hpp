#pragma once
// Raw bytes to an HTTP server, well formed or not, for the tests of the admin endpoint: the fake
// backend's and the real detourd's.
#include "support/tcp.hpp"

#include <cstddef>
#include <string_view>

namespace detour::test {

// Sends what it can: a server that refuses a request may close before all of it has gone.
void send_until_refused(int fd, std::string_view bytes);

// One raw exchange: `bytes` on a fresh connection, the write side closed, everything read back.
received raw_exchange(const endpoint& to, std::string_view bytes);

// True when GET /healthz at `to` answers 200 "ok\n"; false on any other answer or none.
bool answers_healthz(const endpoint& to);

struct broken_requests_outcome {
  std::size_t answered_4xx = 0;  // answers starting "HTTP/1.1 4"
  std::size_t hung = 0;          // exchanges the server neither answered nor closed within 10 s
};

// `count` requests, one a connection, cycling through random bytes, a request line without a
// version, an unknown version, a 20000-byte target, a header of a megabyte (every 20th) and a
// Content-Length too big for any integer. The random ones come from a fixed seed: a failure must
// be reproducible.
broken_requests_outcome send_broken_requests(const endpoint& to, int count);

}  // namespace detour::test
