// What an idle session costs detourd: its two sockets and one handler-driven relay object, no
// pipe (the pipes serve only bytes in flight) and no buffer. Measured on the real process through
// /proc.
#include "support/detourd_process.hpp"
#include "support/netns.hpp"
#include "support/proc.hpp"
#include "support/tcp.hpp"

#include <catch2/catch.hpp>

using namespace detour::test;

TEST_CASE("sessions that have gone idle after moving bytes hold no pipes", "[relay]") {
  constexpr std::size_t sessions = 1000;
  raise_descriptor_limit(3 * sessions);
  direct_proxy proxy;
  echo_server upstream(at("10.77.0.2", 0));

  std::vector<socket_fd> clients;
  for (std::size_t i = 0; i < sessions; ++i) clients.push_back(connect_and_echo(upstream.local_endpoint(), "ping"));
  // Every session has spliced bytes both ways and is idle now. Holding its pipes would mean four
  // pipe descriptors per session; the per-worker pool keeps a few for reuse.
  auto fds = open_descriptors(proxy.detourd.pid());
  WARN(fmt::format("{} idle sessions after traffic: detourd holds {} sockets, {} pipe descriptors, {} in all", sessions,
                   fds.sockets, fds.pipes, fds.total));
  CHECK(fds.sockets >= 2 * sessions);
  CHECK(fds.pipes < sessions / 10);
}

TEST_CASE("5000 idle sessions cost two sockets each and little memory", "[relay]") {
  constexpr std::size_t sessions = 5000;
  raise_descriptor_limit(2 * sessions + 100);
  // The sessions stay half-open at the end (the upstream never closes): no need to drain them.
  direct_proxy proxy("drain_timeout: 100ms\n");
  auto& detourd = proxy.detourd;
  tcp_server upstream(at("10.77.0.2", 0));  // accepts and holds, never reads nor closes
  auto rss_before = resident_kib(detourd.pid());

  std::vector<socket_fd> clients;
  clients.reserve(sessions);
  for (std::size_t i = 0; i < sessions; ++i) clients.push_back(connect_to(upstream.local_endpoint()));
  REQUIRE(upstream.wait_for_connections(sessions, 60s));
  // The upstream accepted the last connection; detourd may still be between its connect and the
  // start of that session's relay, which costs no descriptor and no measurable memory.
  auto fds = open_descriptors(detourd.pid());
  auto rss_after = resident_kib(detourd.pid());
  double per_session = static_cast<double>(rss_after - rss_before) * 1024.0 / sessions;
  WARN(
      fmt::format("{} idle sessions: detourd RSS {} KiB -> {} KiB ({:.0f} bytes per session); {} sockets, "
                  "{} pipe descriptors, {} descriptors in all",
                  sessions, rss_before, rss_after, per_session, fds.sockets, fds.pipes, fds.total));
  CHECK(fds.sockets >= 2 * sessions);
  CHECK(fds.sockets < 2 * sessions + 50);
  CHECK(fds.pipes < 50);
#if !defined(__SANITIZE_ADDRESS__)
  // Kernel socket buffers are not in RSS; what is, is the session's user-space state: the relay
  // object and the sockets' bookkeeping, about 1.2 KiB measured (RelWithDebInfo; README and
  // docs/BENCHMARKS.md advertise it). The bound leaves room for allocator noise but not for a
  // regression to the coroutine relay (6.5 KiB), let alone a per-session copy buffer (16-64 KiB).
  CHECK(per_session < 3072.0);
#endif
  clients.clear();
  CHECK(detourd.stop() == 0);
  CHECK(detourd.stop_counter("relayed") == sessions);
}
