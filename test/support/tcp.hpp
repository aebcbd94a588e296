#pragma once
#include "support/payload.hpp"

#include <boost/asio/ip/tcp.hpp>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace detour::test {

using endpoint = boost::asio::ip::tcp::endpoint;
using namespace std::chrono_literals;

// Long enough for a loaded CI machine, short enough that a hang fails the test rather than CTest.
inline constexpr std::chrono::milliseconds default_timeout = 20s;

// "10.77.0.2", 8080 → an endpoint; throws on a bad address.
endpoint at(std::string_view address, std::uint16_t port);

// Owns one socket descriptor; closes it when destroyed.
class socket_fd {
 public:
  socket_fd() = default;
  explicit socket_fd(int fd) : fd_(fd) {}
  socket_fd(socket_fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  socket_fd& operator=(socket_fd&& other) noexcept;
  socket_fd(const socket_fd&) = delete;
  socket_fd& operator=(const socket_fd&) = delete;
  ~socket_fd();

  int get() const { return fd_; }
  explicit operator bool() const { return fd_ >= 0; }
  void close();

 private:
  int fd_ = -1;
};

// How a byte stream ended, as the reader saw it.
enum class stream_end { eof, reset, timeout };
std::string_view to_string(stream_end e);

struct received {
  std::string bytes;
  stream_end end;
};

struct received_digest {
  std::uint64_t size = 0;
  std::string sha1;
  stream_end end = stream_end::timeout;
};

// Client side. Sockets are non-blocking underneath; each call blocks for at most `timeout`
// (poll), so a proxy that hangs fails the test instead of hanging it. Unexpected errors throw
// std::system_error.
socket_fd connect_to(const endpoint& to, std::chrono::milliseconds timeout = default_timeout);
// connect_to() from the local address `source` (port 0: any), for a client standing for another host.
socket_fd connect_from(const endpoint& source, const endpoint& to, std::chrono::milliseconds timeout = default_timeout);
endpoint local_endpoint_of(int fd);
void send_all(int fd, std::string_view bytes, std::chrono::milliseconds timeout = default_timeout);
void send_payload(int fd, const payload& p, std::chrono::milliseconds timeout = default_timeout);
void shutdown_write(int fd);
// Closes with SO_LINGER 0, which makes the kernel send RST instead of FIN.
void reset_connection(socket_fd& s);
void set_linger_zero(int fd);

// Reads until EOF, a reset (ECONNRESET) or the timeout, whichever comes first.
received read_until_eof(int fd, std::chrono::milliseconds timeout = default_timeout);
received_digest hash_until_eof(int fd, std::chrono::milliseconds timeout = default_timeout);
// Reads exactly `count` bytes unless the stream ends first.
received read_exactly(int fd, std::size_t count, std::chrono::milliseconds timeout = default_timeout);

// Connects and reads until the stream ends. A reset that arrives before connect_to() has seen its
// handshake complete (detourd resets as soon as it knows) counts as a reset with no bytes.
received read_after_connect(const endpoint& to, std::chrono::milliseconds timeout = default_timeout);

// What a client connecting to `to` reads until the stream ends, or "connect: REASON" when it
// cannot connect ("connect: Connection refused"): one string to compare, whichever happened.
std::string read_or_connect_error(const endpoint& to, std::chrono::milliseconds timeout = 3s);

// Sends `p` in `pieces` pieces with a pause of `interval` after each, as a slow trickle does, and
// returns stream_end::timeout when the peer kept its stream open all along. Each pause is a wait
// for the peer's stream to end (what arrives meanwhile goes to `seen`): when it does, the trickle
// stops and says how it ended.
stream_end trickle(int fd, const payload& p, std::size_t pieces, std::chrono::milliseconds interval, sha1_hasher& seen);

// A one-shot exchange as the client saw it: its own address, and what it read until the end.
struct answer {
  endpoint client;
  received reply;
};
// Reads until EOF (or reset, or timeout) and closes, as a client that has what it came for does:
// a server that lingers until its peer closes (detourd's echo) is not kept waiting.
answer read_answer_and_close(socket_fd client, std::chrono::milliseconds timeout = default_timeout);
// read_after_connect() from a socket bound before it connects, so the answer names the client's
// port even when detourd resets the connection before connect() returns.
answer connect_and_read(const endpoint& to, std::chrono::milliseconds timeout = default_timeout);

// Connects to `to` (an echo server, through detourd) and waits for `bytes` to come back: once it
// returns, the connection is up end to end. Throws if they do not come back whole.
socket_fd connect_and_echo(const endpoint& to, std::string_view bytes);

// Sends `p` on `client`, half-closes and reads until the stream ends: with a sink_server at the
// other end, the reply is the SHA-1 of all it read and a newline, which proves both halves.
answer send_and_read_answer(socket_fd client, const payload& p);

// Opens one connection to `to` per payload, all at once, sends each its payload and then
// half-closes, while reading every reply until EOF; one poll loop drives them all, so the
// connections really are open concurrently. Results are in the order of `payloads`.
std::vector<received_digest> exchange_concurrently(const endpoint& to, const std::vector<payload>& payloads,
                                                   std::chrono::milliseconds timeout);
// The same over connections already made (connect_to()), one per payload: for a test that changes
// something between the connects and the bytes.
std::vector<received_digest> exchange_concurrently(std::vector<socket_fd> connected,
                                                   const std::vector<payload>& payloads,
                                                   std::chrono::milliseconds timeout);

// What a server connection saw: the bytes it read (by hash) and how the client's stream ended.
struct connection_report {
  received_digest received;
  endpoint peer;
};

// A small threaded TCP server: one thread accepts, one thread per connection runs the handler.
// Without a handler, connections are accepted and held open, untouched, until the server goes
// (no thread each: thousands of idle peers cost nothing). The destructor shuts every open
// connection down and joins every thread, so no test leaves a thread behind, even when it fails
// half way.
class tcp_server {
 public:
  using handler = std::function<received_digest(int fd)>;

  explicit tcp_server(const endpoint& listen_at, handler h = {});
  tcp_server(const tcp_server&) = delete;
  tcp_server& operator=(const tcp_server&) = delete;
  ~tcp_server();

  // Where it listens, with the port the kernel chose when listen_at had port 0.
  endpoint local_endpoint() const { return local_; }
  std::uint16_t port() const { return local_.port(); }

  // The report of the next connection to finish, in finishing order. Throws on timeout.
  connection_report wait_for_report(std::chrono::milliseconds timeout = default_timeout);
  std::size_t connections_accepted() const;
  // True once `count` connections have been accepted in all; false if not within `timeout`.
  bool wait_for_connections(std::size_t count, std::chrono::milliseconds timeout = default_timeout) const;

 private:
  void accept_loop();
  void serve(int fd, endpoint peer);

  handler handler_;
  socket_fd listener_;
  socket_fd stop_event_;
  endpoint local_;
  std::thread acceptor_;
  mutable std::mutex mutex_;
  mutable std::condition_variable changed_;
  std::deque<connection_report> reports_;
  std::set<int> open_connections_;
  std::vector<std::thread> connection_threads_;
  std::vector<socket_fd> held_connections_;
  std::size_t accepted_ = 0;
};

// Reads until EOF, hashing, then answers with the 40-digit SHA-1 of what it read and a newline,
// and closes: the answer travels after the client's half-close.
class sink_server : public tcp_server {
 public:
  explicit sink_server(const endpoint& listen_at);
};

// Sends back what it reads; half-closes when the client does.
class echo_server : public tcp_server {
 public:
  explicit echo_server(const endpoint& listen_at);
};

// Sends `p` and half-closes, while reading (and hashing) whatever the client sends until its EOF;
// the two directions run concurrently.
class sending_server : public tcp_server {
 public:
  sending_server(const endpoint& listen_at, payload p);
};

// A sending_server that trickles: `p` in `pieces` pieces, `interval` apart (see trickle()), then
// the half-close; what the client sends is read and hashed until its EOF.
class trickling_server : public tcp_server {
 public:
  trickling_server(const endpoint& listen_at, payload p, std::size_t pieces, std::chrono::milliseconds interval);
};

// Waits for the first bytes from the client, then resets the connection.
class resetting_server : public tcp_server {
 public:
  explicit resetting_server(const endpoint& listen_at);
};

}  // namespace detour::test
