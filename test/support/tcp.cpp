#include "support/tcp.hpp"
#include "support/deadline.hpp"
#include "support/throw_errno.hpp"

#include <fmt/format.h>

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <functional>
#include <stdexcept>
#include <system_error>

namespace detour::test {

namespace {

using clock = test_clock;

// Waits until fd is ready for `events`; false on timeout.
bool wait_ready(int fd, short events, clock::time_point deadline) {
  for (;;) {
    pollfd p{fd, events, 0};
    int n = ::poll(&p, 1, remaining_ms(deadline));
    if (n > 0) return true;
    if (n == 0) return false;
    if (errno != EINTR) throw_errno("poll");
  }
}

socket_fd new_socket(int family) {
  int fd = ::socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) throw_errno("socket");
  return socket_fd(fd);
}

void connect_socket(const socket_fd& s, const endpoint& to, clock::time_point deadline) {
  if (::connect(s.get(), to.data(), static_cast<socklen_t>(to.size())) != 0) {
    if (errno != EINPROGRESS) throw_errno(fmt::format("connect to {}", to.address().to_string()));
    if (!wait_ready(s.get(), POLLOUT, deadline)) throw_errno("connect", ETIMEDOUT);
    int error = 0;
    socklen_t len = sizeof error;
    ::getsockopt(s.get(), SOL_SOCKET, SO_ERROR, &error, &len);
    if (error != 0) throw_errno(fmt::format("connect to {}", to.address().to_string()), error);
  }
}

constexpr std::size_t chunk_size = 64 * 1024;

// One read step shared by the readers: >0 bytes, 0 at EOF, -1 on reset; throws otherwise.
ssize_t read_some(int fd, std::array<char, chunk_size>& buffer, clock::time_point deadline, bool& timed_out) {
  for (;;) {
    ssize_t n = ::recv(fd, buffer.data(), buffer.size(), 0);
    if (n >= 0) return n;
    if (errno == ECONNRESET) return -1;
    if (errno == EINTR) continue;
    if (errno != EAGAIN) throw_errno("recv");
    if (!wait_ready(fd, POLLIN, deadline)) {
      timed_out = true;
      return 0;
    }
  }
}

// Reads until EOF, reset or `deadline`, handing every chunk to `on_bytes`; says how it ended.
stream_end read_each_chunk(int fd, clock::time_point deadline, const std::function<void(std::string_view)>& on_bytes) {
  std::array<char, chunk_size> buffer{};
  for (;;) {
    bool timed_out = false;
    ssize_t n = read_some(fd, buffer, deadline, timed_out);
    if (timed_out) return stream_end::timeout;
    if (n <= 0) return n < 0 ? stream_end::reset : stream_end::eof;
    on_bytes(std::string_view(buffer.data(), static_cast<std::size_t>(n)));
  }
}

}  // namespace

endpoint at(std::string_view address, std::uint16_t port) {
  return endpoint(boost::asio::ip::make_address(std::string(address)), port);
}

socket_fd& socket_fd::operator=(socket_fd&& other) noexcept {
  if (this != &other) {
    close();
    fd_ = std::exchange(other.fd_, -1);
  }
  return *this;
}

socket_fd::~socket_fd() { close(); }

void socket_fd::close() {
  if (fd_ >= 0) ::close(std::exchange(fd_, -1));
}

std::string_view to_string(stream_end e) {
  switch (e) {
    case stream_end::eof:
      return "eof";
    case stream_end::reset:
      return "reset";
    case stream_end::timeout:
      return "timeout";
  }
  return "?";
}

socket_fd connect_to(const endpoint& to, std::chrono::milliseconds timeout) {
  auto s = new_socket(to.protocol().family());
  connect_socket(s, to, clock::now() + timeout);
  return s;
}

socket_fd connect_from(const endpoint& source, const endpoint& to, std::chrono::milliseconds timeout) {
  auto s = new_socket(to.protocol().family());
  if (::bind(s.get(), source.data(), static_cast<socklen_t>(source.size())) != 0) throw_errno("bind");
  connect_socket(s, to, clock::now() + timeout);
  return s;
}

endpoint local_endpoint_of(int fd) {
  endpoint e;
  socklen_t len = static_cast<socklen_t>(e.capacity());
  if (::getsockname(fd, e.data(), &len) != 0) throw_errno("getsockname");
  e.resize(len);
  return e;
}

void send_all(int fd, std::string_view bytes, std::chrono::milliseconds timeout) {
  auto deadline = clock::now() + timeout;
  while (!bytes.empty()) {
    ssize_t n = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n > 0) {
      bytes.remove_prefix(static_cast<std::size_t>(n));
    } else if (errno == EAGAIN) {
      if (!wait_ready(fd, POLLOUT, deadline)) throw_errno("send", ETIMEDOUT);
    } else if (errno != EINTR) {
      throw_errno("send");
    }
  }
}

void send_payload(int fd, const payload& p, std::chrono::milliseconds timeout) {
  auto deadline = clock::now() + timeout;
  std::string chunk(chunk_size, '\0');
  for (std::uint64_t offset = 0; offset < p.size();) {
    auto n = p.fill(offset, chunk);
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock::now());
    send_all(fd, std::string_view(chunk.data(), n), left);
    offset += n;
  }
}

void shutdown_write(int fd) {
  if (::shutdown(fd, SHUT_WR) != 0) throw_errno("shutdown(SHUT_WR)");
}

void set_linger_zero(int fd) {
  linger l{1, 0};
  if (::setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l) != 0) throw_errno("setsockopt(SO_LINGER)");
}

void reset_connection(socket_fd& s) {
  set_linger_zero(s.get());
  s.close();
}

received read_until_eof(int fd, std::chrono::milliseconds timeout) {
  received out{{}, stream_end::eof};
  out.end = read_each_chunk(fd, clock::now() + timeout, [&](std::string_view bytes) { out.bytes.append(bytes); });
  return out;
}

received_digest hash_until_eof(int fd, std::chrono::milliseconds timeout) {
  sha1_hasher hasher;
  received_digest out;
  out.end = read_each_chunk(fd, clock::now() + timeout, [&](std::string_view bytes) {
    hasher.add(std::span<const char>(bytes.data(), bytes.size()));
  });
  out.size = hasher.size();
  out.sha1 = hasher.hex();
  return out;
}

received read_exactly(int fd, std::size_t count, std::chrono::milliseconds timeout) {
  auto deadline = clock::now() + timeout;
  received out{{}, stream_end::eof};
  while (out.bytes.size() < count) {
    std::array<char, 4096> buffer{};
    ssize_t n = ::recv(fd, buffer.data(), std::min(buffer.size(), count - out.bytes.size()), 0);
    if (n > 0) {
      out.bytes.append(buffer.data(), static_cast<std::size_t>(n));
    } else if (n == 0) {
      break;
    } else if (errno == ECONNRESET) {
      out.end = stream_end::reset;
      break;
    } else if (errno == EAGAIN) {
      if (!wait_ready(fd, POLLIN, deadline)) {
        out.end = stream_end::timeout;
        break;
      }
    } else if (errno != EINTR) {
      throw_errno("recv");
    }
  }
  return out;
}

answer connect_and_read(const endpoint& to, std::chrono::milliseconds timeout) {
  auto deadline = clock::now() + timeout;
  auto s = new_socket(to.protocol().family());
  // Bound before connect(), so the port is known even if the handshake never completes.
  endpoint any(to.address().is_v6() ? boost::asio::ip::tcp::v6() : boost::asio::ip::tcp::v4(), 0);
  if (::bind(s.get(), any.data(), static_cast<socklen_t>(any.size())) != 0) throw_errno("bind");
  auto source = local_endpoint_of(s.get());
  try {
    connect_socket(s, to, deadline);
    return {source, read_until_eof(s.get(), std::chrono::milliseconds(remaining_ms(deadline)))};
  } catch (const std::system_error& e) {
    if (e.code() != std::errc::connection_reset) throw;
    return {source, {{}, stream_end::reset}};
  }
}

received read_after_connect(const endpoint& to, std::chrono::milliseconds timeout) {
  return connect_and_read(to, timeout).reply;
}

std::string read_or_connect_error(const endpoint& to, std::chrono::milliseconds timeout) {
  try {
    auto client = connect_to(to, timeout);
    return read_until_eof(client.get(), timeout).bytes;
  } catch (const std::system_error& e) {
    return fmt::format("connect: {}", e.code().message());
  }
}

stream_end trickle(int fd, const payload& p, std::size_t pieces, std::chrono::milliseconds interval,
                   sha1_hasher& seen) {
  std::string piece(static_cast<std::size_t>((p.size() + pieces - 1) / pieces), '\0');
  for (std::uint64_t offset = 0; offset < p.size();) {
    auto n = p.fill(offset, piece);
    send_all(fd, std::string_view(piece.data(), n));
    offset += n;
    auto end = read_each_chunk(fd, clock::now() + interval, [&](std::string_view bytes) { seen.add(bytes); });
    if (end != stream_end::timeout) return end;
  }
  return stream_end::timeout;
}

answer read_answer_and_close(socket_fd client, std::chrono::milliseconds timeout) {
  auto local = local_endpoint_of(client.get());
  return {local, read_until_eof(client.get(), timeout)};
}

socket_fd connect_and_echo(const endpoint& to, std::string_view bytes) {
  auto client = connect_to(to);
  send_all(client.get(), bytes);
  auto got = read_exactly(client.get(), bytes.size());
  if (got.bytes != bytes) {
    throw std::runtime_error(
        fmt::format("sent \"{}\" to the echo server, got \"{}\" back ({})", bytes, got.bytes, to_string(got.end)));
  }
  return client;
}

answer send_and_read_answer(socket_fd client, const payload& p) {
  send_payload(client.get(), p);
  shutdown_write(client.get());
  return read_answer_and_close(std::move(client));
}

namespace {

struct exchanged_connection {
  socket_fd socket;
  const payload* to_send;
  std::uint64_t sent = 0;
  bool connected = false;
  bool write_closed = false;
  bool done = false;
  sha1_hasher hasher;
  stream_end end = stream_end::timeout;
};

std::vector<received_digest> exchange(std::vector<exchanged_connection>& connections, clock::time_point deadline);

}  // namespace

std::vector<received_digest> exchange_concurrently(const endpoint& to, const std::vector<payload>& payloads,
                                                   std::chrono::milliseconds timeout) {
  auto deadline = clock::now() + timeout;
  std::vector<exchanged_connection> connections(payloads.size());
  for (std::size_t i = 0; i < payloads.size(); ++i) {
    auto& c = connections[i];
    c.socket = new_socket(to.protocol().family());
    c.to_send = &payloads[i];
    if (::connect(c.socket.get(), to.data(), static_cast<socklen_t>(to.size())) != 0 && errno != EINPROGRESS) {
      throw_errno("connect");
    }
  }
  return exchange(connections, deadline);
}

std::vector<received_digest> exchange_concurrently(std::vector<socket_fd> connected,
                                                   const std::vector<payload>& payloads,
                                                   std::chrono::milliseconds timeout) {
  auto deadline = clock::now() + timeout;
  std::vector<exchanged_connection> connections(payloads.size());
  for (std::size_t i = 0; i < payloads.size(); ++i) {
    connections[i].socket = std::move(connected.at(i));
    connections[i].to_send = &payloads[i];
    connections[i].connected = true;
  }
  return exchange(connections, deadline);
}

namespace {

std::vector<received_digest> exchange(std::vector<exchanged_connection>& connections, clock::time_point deadline) {
  std::string chunk(chunk_size, '\0');
  std::array<char, chunk_size> buffer{};
  std::vector<pollfd> polls;
  std::vector<exchanged_connection*> polled;
  for (;;) {
    polls.clear();
    polled.clear();
    for (auto& c : connections) {
      if (c.done) continue;
      short events = POLLIN;
      if (!c.connected || !c.write_closed) events |= POLLOUT;
      polls.push_back({c.socket.get(), events, 0});
      polled.push_back(&c);
    }
    if (polls.empty()) break;
    int n = ::poll(polls.data(), polls.size(), remaining_ms(deadline));
    if (n == 0) break;
    if (n < 0) {
      if (errno == EINTR) continue;
      throw_errno("poll");
    }
    for (std::size_t i = 0; i < polls.size(); ++i) {
      auto& c = *polled[i];
      auto revents = polls[i].revents;
      if (revents == 0) continue;
      if (!c.connected) {
        int error = 0;
        socklen_t len = sizeof error;
        ::getsockopt(c.socket.get(), SOL_SOCKET, SO_ERROR, &error, &len);
        if (error != 0) throw_errno("connect", error);
        c.connected = true;
      }
      if ((revents & POLLOUT) != 0 && !c.write_closed) {
        auto filled = c.to_send->fill(c.sent, chunk);
        if (filled > 0) {
          ssize_t sent = ::send(c.socket.get(), chunk.data(), filled, MSG_NOSIGNAL);
          if (sent > 0)
            c.sent += static_cast<std::uint64_t>(sent);
          else if (errno != EAGAIN && errno != EINTR)
            c.write_closed = true;  // the read side reports why
        }
        if (c.sent == c.to_send->size() && !c.write_closed) {
          ::shutdown(c.socket.get(), SHUT_WR);
          c.write_closed = true;
        }
      }
      if ((revents & (POLLIN | POLLERR | POLLHUP)) != 0) {
        ssize_t got = ::recv(c.socket.get(), buffer.data(), buffer.size(), 0);
        if (got > 0) {
          c.hasher.add(std::span<const char>(buffer.data(), static_cast<std::size_t>(got)));
        } else if (got == 0) {
          c.done = true;
          c.end = stream_end::eof;
        } else if (errno == ECONNRESET || errno == EPIPE) {
          c.done = true;
          c.end = stream_end::reset;
        } else if (errno != EAGAIN && errno != EINTR) {
          throw_errno("recv");
        }
      }
    }
  }
  std::vector<received_digest> out;
  out.reserve(connections.size());
  for (auto& c : connections) out.push_back({c.hasher.size(), c.hasher.hex(), c.end});
  return out;
}

}  // namespace

tcp_server::tcp_server(const endpoint& listen_at, handler h) : handler_(std::move(h)) {
  listener_ = new_socket(listen_at.protocol().family());
  int on = 1;
  ::setsockopt(listener_.get(), SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
  if (::bind(listener_.get(), listen_at.data(), static_cast<socklen_t>(listen_at.size())) != 0) {
    throw_errno(fmt::format("bind test server to {}:{}", listen_at.address().to_string(), listen_at.port()));
  }
  if (::listen(listener_.get(), 4096) != 0) throw_errno("listen");
  local_ = local_endpoint_of(listener_.get());
  int stop = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (stop < 0) throw_errno("eventfd");
  stop_event_ = socket_fd(stop);
  acceptor_ = std::thread([this] { accept_loop(); });
}

tcp_server::~tcp_server() {
  std::uint64_t one = 1;
  [[maybe_unused]] auto written = ::write(stop_event_.get(), &one, sizeof one);
  acceptor_.join();
  std::vector<std::thread> threads;
  {
    std::lock_guard lock(mutex_);
    // Unblocks handlers still waiting on a client, so the joins below cannot hang.
    for (int fd : open_connections_) ::shutdown(fd, SHUT_RDWR);
    threads = std::move(connection_threads_);
  }
  for (auto& t : threads) t.join();
}

void tcp_server::accept_loop() {
  for (;;) {
    std::array<pollfd, 2> polls{{{listener_.get(), POLLIN, 0}, {stop_event_.get(), POLLIN, 0}}};
    if (::poll(polls.data(), polls.size(), -1) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (polls[1].revents != 0) return;
    endpoint peer;
    socklen_t len = static_cast<socklen_t>(peer.capacity());
    int fd = ::accept4(listener_.get(), peer.data(), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) continue;
    peer.resize(len);
    std::lock_guard lock(mutex_);
    ++accepted_;
    changed_.notify_all();
    if (!handler_) {
      held_connections_.emplace_back(fd);
      continue;
    }
    open_connections_.insert(fd);
    connection_threads_.emplace_back([this, fd, peer] { serve(fd, peer); });
  }
}

void tcp_server::serve(int fd, endpoint peer) {
  received_digest result;
  try {
    result = handler_(fd);
  } catch (const std::exception&) {
    // A client that vanished mid-send; what it sent so far is unknown, the report says timeout.
  }
  std::lock_guard lock(mutex_);
  open_connections_.erase(fd);
  ::close(fd);
  reports_.push_back({std::move(result), peer});
  changed_.notify_all();
}

connection_report tcp_server::wait_for_report(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  if (!changed_.wait_for(lock, timeout, [this] { return !reports_.empty(); })) {
    throw std::runtime_error(fmt::format("no connection to the test server on port {} finished within {}ms",
                                         local_.port(), timeout.count()));
  }
  auto report = std::move(reports_.front());
  reports_.pop_front();
  return report;
}

std::size_t tcp_server::connections_accepted() const {
  std::lock_guard lock(mutex_);
  return accepted_;
}

bool tcp_server::wait_for_connections(std::size_t count, std::chrono::milliseconds timeout) const {
  std::unique_lock lock(mutex_);
  return changed_.wait_for(lock, timeout, [&] { return accepted_ >= count; });
}

sink_server::sink_server(const endpoint& listen_at)
    : tcp_server(listen_at, [](int fd) {
        auto got = hash_until_eof(fd);
        if (got.end == stream_end::eof) send_all(fd, got.sha1 + "\n");
        return got;
      }) {}

echo_server::echo_server(const endpoint& listen_at)
    : tcp_server(listen_at, [](int fd) {
        sha1_hasher hasher;
        received_digest out;
        out.end = read_each_chunk(fd, clock::now() + default_timeout, [&](std::string_view bytes) {
          hasher.add(std::span<const char>(bytes.data(), bytes.size()));
          send_all(fd, bytes);
        });
        if (out.end == stream_end::eof) shutdown_write(fd);
        out.size = hasher.size();
        out.sha1 = hasher.hex();
        return out;
      }) {}

sending_server::sending_server(const endpoint& listen_at, payload p)
    : tcp_server(listen_at, [p](int fd) {
        std::jthread sender([fd, &p] {
          try {
            send_payload(fd, p);
            shutdown_write(fd);
          } catch (const std::system_error&) {
            // The client reset or went away; the reader below reports how the stream ended.
          }
        });
        return hash_until_eof(fd);
      }) {}

trickling_server::trickling_server(const endpoint& listen_at, payload p, std::size_t pieces,
                                   std::chrono::milliseconds interval)
    : tcp_server(listen_at, [p, pieces, interval](int fd) {
        sha1_hasher hasher;
        received_digest out;
        out.end = trickle(fd, p, pieces, interval, hasher);
        if (out.end == stream_end::timeout) {
          shutdown_write(fd);
          out.end =
              read_each_chunk(fd, clock::now() + default_timeout, [&](std::string_view bytes) { hasher.add(bytes); });
        }
        out.size = hasher.size();
        out.sha1 = hasher.hex();
        return out;
      }) {}

resetting_server::resetting_server(const endpoint& listen_at)
    : tcp_server(listen_at, [](int fd) {
        auto got = read_exactly(fd, 1);
        set_linger_zero(fd);  // the close after the handler returns sends RST
        received_digest out;
        out.size = got.bytes.size();
        out.sha1 = sha1_hex(got.bytes);
        out.end = got.end;
        return out;
      }) {}

}  // namespace detour::test
