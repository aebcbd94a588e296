#include "support/stuck_peers.hpp"

#include "support/deadline.hpp"
#include "support/throw_errno.hpp"

#include <fmt/format.h>

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace detour::test {

namespace {

constexpr std::size_t connects_in_flight_at_most = 128;
constexpr std::size_t chunk_size = 64 * 1024;
// The figure for a client that never reads; never reached, since every buffer between the
// sender and the peer that does not read is full long before.
constexpr std::uint64_t send_cap = 256ULL << 20;
// The senders' own socket buffers (SO_SNDBUF/SO_RCVBUF, which the kernel doubles): what piles up
// in the test's kernel memory stays small; detourd's share is bounded by the test's sysctls.
constexpr int peer_buffer = 32 * 1024;

std::size_t index_of(stuck_kind kind) { return static_cast<std::size_t>(kind); }

void set_buffer(int fd, int option) {
  if (::setsockopt(fd, SOL_SOCKET, option, &peer_buffer, sizeof peer_buffer) != 0) throw_errno("setsockopt");
}

int socket_error(int fd) {
  int error = 0;
  socklen_t size = sizeof error;
  if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &size) != 0) return errno;
  return error;
}

// How a read or write error ends the stream. EPIPE is a reset too: the kernel reports an RST that
// arrives after the peer's FIN (CLOSE_WAIT) as EPIPE (tcp_reset() in net/ipv4/tcp_input.c).
std::string end_of(int error) {
  if (error == ECONNRESET || error == EPIPE) return "reset";
  return std::strerror(error);
}

socket_fd listen_on(const endpoint& where) {
  socket_fd fd(::socket(where.protocol().family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd) throw_errno("socket");
  if (::bind(fd.get(), where.data(), static_cast<socklen_t>(where.size())) != 0) throw_errno("bind");
  if (::listen(fd.get(), 4096) != 0) throw_errno("listen");
  return fd;
}

const std::string& filler() {
  static const std::string bytes(chunk_size, 'x');
  return bytes;
}

// Sends until the socket takes no more; false when the stream broke (error set).
bool send_until_full(int fd, std::uint64_t& sent, bool& filled, int& error) {
  while (sent < send_cap) {
    auto n = ::send(fd, filler().data(), filler().size(), MSG_NOSIGNAL);
    if (n > 0) {
      sent += static_cast<std::uint64_t>(n);
      continue;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      filled = true;
      return true;
    }
    error = errno;
    return false;
  }
  return true;
}

struct client_peer {
  stuck_kind kind;
  socket_fd fd;
  std::uint16_t port = 0;
  endpoint destination{};
  bool connected = false;
  bool filled = false;   // upstream_never_reads: a send met a full pipeline
  bool got_eof = false;  // upstream_half_closed
  std::uint64_t sent = 0;
  std::string end{};  // empty while open
};

struct server_peer {
  stuck_kind kind;
  socket_fd fd;
  bool filled = false;   // client_never_reads
  bool got_eof = false;  // client_half_closed
  std::size_t received = 0;
  std::uint64_t sent = 0;
};

// The state each kind stays in until a timeout ends it, seen from the side that can tell.
struct stuck_counts {
  std::array<std::size_t, stuck_kind_count> by_kind{};
  std::size_t total() const {
    std::size_t sum = 0;
    for (auto n : by_kind) sum += n;
    return sum;
  }
  void add(stuck_kind kind) { ++by_kind[index_of(kind)]; }
};

short client_events(const client_peer& c) {
  if (!c.connected) return POLLOUT;
  switch (c.kind) {
    case stuck_kind::client_never_reads:
      return 0;  // an RST still shows as POLLERR/POLLHUP, with nothing read
    case stuck_kind::upstream_never_reads:
      return c.sent < send_cap ? POLLOUT : 0;
    case stuck_kind::upstream_half_closed:
      return c.got_eof ? 0 : POLLIN;
    default:
      return POLLIN;
  }
}

short server_events(const server_peer& s) {
  switch (s.kind) {
    case stuck_kind::client_never_reads:
      return s.sent < send_cap ? POLLOUT : 0;
    case stuck_kind::proxy_silent:
      return POLLIN;
    case stuck_kind::client_half_closed:
      return s.got_eof ? 0 : POLLIN;
    default:
      return 0;
  }
}

void on_connected(client_peer& c, stuck_counts& stuck) {
  c.connected = true;
  if (c.kind == stuck_kind::never_accepted) stuck.add(c.kind);
  if (c.kind == stuck_kind::client_half_closed) {
    if (::send(c.fd.get(), "bye", 3, MSG_NOSIGNAL) != 3) {
      c.end = fmt::format("send: {}", std::strerror(errno));
      return;
    }
    ::shutdown(c.fd.get(), SHUT_WR);
  }
}

void drive_client(client_peer& c, short revents, stuck_counts& stuck) {
  if (!c.connected) {
    if (int error = socket_error(c.fd.get()); error != 0) {
      c.end = fmt::format("connect: {}", std::strerror(error));
      return;
    }
    on_connected(c, stuck);
    return;
  }
  if ((revents & POLLIN) != 0) {
    char buffer[4096];
    auto n = ::recv(c.fd.get(), buffer, sizeof buffer, 0);
    if (n > 0) return;
    if (n == 0) {
      if (c.kind == stuck_kind::upstream_half_closed && !c.got_eof) {
        c.got_eof = true;
        stuck.add(c.kind);
      } else {
        c.end = "eof";
      }
      return;
    }
    if (errno != EAGAIN) c.end = end_of(errno);
    return;
  }
  if ((revents & POLLOUT) != 0 && c.kind == stuck_kind::upstream_never_reads) {
    bool was_filled = c.filled;
    int error = 0;
    if (!send_until_full(c.fd.get(), c.sent, c.filled, error)) {
      c.end = end_of(error);
      return;
    }
    if (c.filled && !was_filled) stuck.add(c.kind);
    return;
  }
  if ((revents & (POLLERR | POLLHUP)) != 0) {
    int error = socket_error(c.fd.get());
    c.end = error != 0 ? end_of(error) : "eof";
  }
}

// False once the server side is done with (closed).
bool drive_server(server_peer& s, short revents, stuck_counts& stuck) {
  if ((revents & POLLIN) != 0) {
    char buffer[4096];
    auto n = ::recv(s.fd.get(), buffer, sizeof buffer, 0);
    if (n > 0) {
      s.received += static_cast<std::size_t>(n);
      // The SOCKS5 greeting is 3 bytes: version, one method, "no authentication".
      if (s.kind == stuck_kind::proxy_silent && s.received >= 3 && s.received - static_cast<std::size_t>(n) < 3)
        stuck.add(s.kind);
      return true;
    }
    if (n == 0 && s.kind == stuck_kind::client_half_closed && !s.got_eof) {
      s.got_eof = true;
      stuck.add(s.kind);
      return true;
    }
    return n < 0 && errno == EAGAIN;
  }
  if ((revents & POLLOUT) != 0 && s.kind == stuck_kind::client_never_reads) {
    bool was_filled = s.filled;
    int error = 0;
    if (!send_until_full(s.fd.get(), s.sent, s.filled, error)) return false;
    if (s.filled && !was_filled) stuck.add(s.kind);
    return true;
  }
  return (revents & (POLLERR | POLLHUP | POLLNVAL)) == 0;
}

void on_accepted(server_peer& s, stuck_counts& stuck) {
  if (s.kind == stuck_kind::client_never_reads) set_buffer(s.fd.get(), SO_SNDBUF);
  if (s.kind == stuck_kind::client_silent) stuck.add(s.kind);
  if (s.kind == stuck_kind::upstream_half_closed) {
    if (::send(s.fd.get(), "hello", 5, MSG_NOSIGNAL) == 5) ::shutdown(s.fd.get(), SHUT_WR);
  }
}

}  // namespace

std::string_view to_string(stuck_kind kind) {
  switch (kind) {
    case stuck_kind::client_never_reads:
      return "client never reads";
    case stuck_kind::upstream_never_reads:
      return "upstream never reads";
    case stuck_kind::client_silent:
      return "client sends nothing";
    case stuck_kind::proxy_silent:
      return "proxy never answers";
    case stuck_kind::never_accepted:
      return "destination never accepts";
    case stuck_kind::client_half_closed:
      return "client half-closed";
    case stuck_kind::upstream_half_closed:
      break;
  }
  return "upstream half-closed";
}

stuck_peer_load::stuck_peer_load(std::string_view upstream_address, std::string_view proxy_address,
                                 endpoint proxy_route, endpoint unanswered)
    : proxy_route_(proxy_route), unanswered_(unanswered) {
  for (std::size_t i = 0; i < stuck_kind_count; ++i) {
    auto kind = static_cast<stuck_kind>(i);
    if (kind == stuck_kind::never_accepted) continue;
    auto& l = listeners_[i];
    l.fd = listen_on(at(kind == stuck_kind::proxy_silent ? proxy_address : upstream_address, 0));
    l.port = local_endpoint_of(l.fd.get()).port();
  }
}

void stuck_peer_load::add(stuck_kind kind, std::size_t count) { planned_.insert(planned_.end(), count, kind); }

stuck_peer_run stuck_peer_load::run(std::chrono::milliseconds timeout) {
  const auto deadline = test_clock::now() + timeout;
  auto destination = [&](stuck_kind kind) {
    if (kind == stuck_kind::proxy_silent) return proxy_route_;
    if (kind == stuck_kind::never_accepted) return unanswered_;
    return at(local_endpoint_of(listeners_[index_of(kind)].fd.get()).address().to_string(),
              listeners_[index_of(kind)].port);
  };
  // Interleaved, so every kind is opened over the same stretch of time.
  std::vector<stuck_kind> order;
  {
    std::array<std::vector<stuck_kind>, stuck_kind_count> by_kind;
    for (auto kind : planned_) by_kind[index_of(kind)].push_back(kind);
    for (bool more = true; more;) {
      more = false;
      for (auto& list : by_kind) {
        if (list.empty()) continue;
        order.push_back(list.back());
        list.pop_back();
        more = true;
      }
    }
  }

  std::vector<client_peer> clients;
  clients.reserve(order.size());
  std::vector<server_peer> servers;
  stuck_counts stuck;
  stuck_peer_run result;
  std::size_t next = 0;
  std::size_t ended = 0;
  std::vector<pollfd> fds;
  enum class owner_type { acceptor, client, server };
  std::vector<std::pair<owner_type, std::size_t>> owners;

  while (ended < order.size() && test_clock::now() < deadline) {
    std::size_t connecting = 0;
    for (const auto& c : clients) connecting += (!c.connected && c.end.empty()) ? 1U : 0U;
    for (; next < order.size() && connecting < connects_in_flight_at_most; ++next, ++connecting) {
      auto kind = order[next];
      auto to = destination(kind);
      socket_fd fd(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
      if (!fd) throw_errno("socket");
      if (kind == stuck_kind::client_never_reads) set_buffer(fd.get(), SO_RCVBUF);
      if (kind == stuck_kind::upstream_never_reads) set_buffer(fd.get(), SO_SNDBUF);
      if (::connect(fd.get(), to.data(), static_cast<socklen_t>(to.size())) != 0 && errno != EINPROGRESS)
        throw_errno(fmt::format("connect to {}:{}", to.address().to_string(), to.port()));
      auto port = local_endpoint_of(fd.get()).port();
      clients.push_back(client_peer{kind, std::move(fd), port, to});
    }

    fds.clear();
    owners.clear();
    for (std::size_t i = 0; i < stuck_kind_count; ++i) {
      if (!listeners_[i].fd) continue;
      fds.push_back({listeners_[i].fd.get(), POLLIN, 0});
      owners.emplace_back(owner_type::acceptor, i);
    }
    for (std::size_t i = 0; i < clients.size(); ++i) {
      if (!clients[i].end.empty()) continue;
      fds.push_back({clients[i].fd.get(), client_events(clients[i]), 0});
      owners.emplace_back(owner_type::client, i);
    }
    for (std::size_t i = 0; i < servers.size(); ++i) {
      if (!servers[i].fd) continue;
      fds.push_back({servers[i].fd.get(), server_events(servers[i]), 0});
      owners.emplace_back(owner_type::server, i);
    }
    int ready = ::poll(fds.data(), fds.size(), std::min(remaining_ms(deadline), 50));
    if (ready < 0 && errno != EINTR) throw_errno("poll");

    for (std::size_t f = 0; ready > 0 && f < fds.size(); ++f) {
      if (fds[f].revents == 0) continue;
      auto [type, i] = owners[f];
      if (type == owner_type::acceptor) {
        for (;;) {
          int fd = ::accept4(fds[f].fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
          if (fd < 0) break;
          servers.push_back(server_peer{static_cast<stuck_kind>(i), socket_fd(fd)});
          on_accepted(servers.back(), stuck);
        }
      } else if (type == owner_type::client) {
        drive_client(clients[i], fds[f].revents, stuck);
        if (!clients[i].end.empty()) {
          if (ended == 0) result.most_stuck = stuck.total();
          ++ended;
          clients[i].fd.close();
        }
      } else if (!drive_server(servers[i], fds[f].revents, stuck)) {
        servers[i].fd.close();
      }
    }
    if (ended == 0 && stuck.total() == order.size()) result.all_stuck_at_once = true;
  }

  if (ended == 0) result.most_stuck = stuck.total();
  for (auto& c : clients) {
    result.bytes_sent += c.sent;
    result.peers.push_back({c.kind, c.port, c.destination, c.end.empty() ? "open" : c.end});
  }
  for (auto& s : servers) result.bytes_sent += s.sent;
  for (std::size_t i = next; i < order.size(); ++i)
    result.peers.push_back({order[i], 0, destination(order[i]), "never opened"});
  return result;
}

}  // namespace detour::test
