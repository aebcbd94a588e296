// Many open connections, each sending a small request now and then: the load of a proxy that users
// see most (chat, push, API clients), where the cost per request and the tail of the round trip
// count, not the bulk rate. scripts/bench.sh runs both halves; by hand:
//   build/test/conn_load serve --addr 127.0.0.1,::1 --port 9100
//   build/test/conn_load load --addr 127.0.0.1 --port 9100 --conns 1000 --interval-ms 100
//       --seconds 5 --size 64 --pids "$(pidof detourd)"        (one line)
// `load` prints key=value lines: conns, requests, errors, late, req_per_s, p50_us, p99_us and, with
// --pids, cpu_us_per_request.
//
// C++ and epoll rather than Python: at ten thousand connections and 100 ms the client sends 100,000
// requests a second, which an interpreter on the load CPU could not keep up with.
#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

namespace {

using clock_type = std::chrono::steady_clock;

struct options {
  std::string command;
  std::vector<std::string> addrs;
  std::uint16_t port = 0;
  std::size_t conns = 100;
  long interval_ms = 100;
  double seconds = 5;
  std::size_t size = 64;
  std::vector<int> pids;
  // Connections not yet through the proxy to the server at once: enough to open ten thousand in a
  // second or two, few enough that no accept queue on the way overflows (a lost SYN costs a
  // one-second retransmission and would measure the queue).
  std::size_t in_flight = 200;
  double ramp_seconds = 60;
  double stall_seconds = 10;
  double max_seconds = 7200;
};

[[noreturn]] void fail(const std::string& what) {
  std::fprintf(stderr, "conn_load: %s\n", what.c_str());
  std::exit(1);
}

std::string errno_text() { return std::strerror(errno); }

std::vector<std::string> split(std::string_view text) {
  std::vector<std::string> out;
  while (!text.empty()) {
    const auto comma = text.find(',');
    if (comma != 0) out.emplace_back(text.substr(0, comma));
    if (comma == std::string_view::npos) break;
    text.remove_prefix(comma + 1);
  }
  return out;
}

template <typename T>
T number(std::string_view key, std::string_view text) {
  T value{};
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size()) {
    fail(std::string(key) + ": not a number: " + std::string(text));
  }
  return value;
}

options parse(int argc, char** argv) {
  if (argc < 2) fail("usage: conn_load serve|load --addr A[,A...] --port P [load options]");
  options o;
  o.command = argv[1];
  if (o.command != "serve" && o.command != "load") fail("unknown command " + o.command);
  for (int i = 2; i < argc; i += 2) {
    const std::string_view key = argv[i];
    if (i + 1 >= argc) fail(std::string(key) + " needs a value");
    const std::string_view value = argv[i + 1];
    if (key == "--addr") {
      o.addrs = split(value);
    } else if (key == "--port") {
      o.port = number<std::uint16_t>(key, value);
    } else if (key == "--conns") {
      o.conns = number<std::size_t>(key, value);
    } else if (key == "--interval-ms") {
      o.interval_ms = number<long>(key, value);
    } else if (key == "--seconds") {
      o.seconds = number<double>(key, value);
    } else if (key == "--size") {
      o.size = number<std::size_t>(key, value);
    } else if (key == "--pids") {
      for (const auto& pid : split(value)) o.pids.push_back(number<int>(key, pid));
    } else if (key == "--in-flight") {
      o.in_flight = number<std::size_t>(key, value);
    } else if (key == "--ramp-seconds") {
      o.ramp_seconds = number<double>(key, value);
    } else if (key == "--max-seconds") {
      o.max_seconds = number<double>(key, value);
    } else {
      fail("unknown option " + std::string(key));
    }
  }
  if (o.addrs.empty() || o.port == 0) fail("--addr and --port are required");
  if (o.command == "load" && (o.addrs.size() != 1 || o.conns == 0 || o.interval_ms <= 0 || o.size == 0 ||
                              o.seconds <= 0 || o.in_flight == 0)) {
    fail("load needs one --addr and positive --conns, --interval-ms, --size, --seconds, --in-flight");
  }
  return o;
}

struct endpoint {
  sockaddr_storage storage{};
  socklen_t length = 0;
  int family = AF_UNSPEC;

  const sockaddr* address() const { return reinterpret_cast<const sockaddr*>(&storage); }
};

endpoint resolve(const std::string& addr, std::uint16_t port) {
  endpoint e;
  if (addr.find(':') != std::string::npos) {
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&e.storage);
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(port);
    if (::inet_pton(AF_INET6, addr.c_str(), &in6->sin6_addr) != 1) fail("not an IPv6 address: " + addr);
    e.length = sizeof(sockaddr_in6);
    e.family = AF_INET6;
  } else {
    auto* in4 = reinterpret_cast<sockaddr_in*>(&e.storage);
    in4->sin_family = AF_INET;
    in4->sin_port = htons(port);
    if (::inet_pton(AF_INET, addr.c_str(), &in4->sin_addr) != 1) fail("not an IPv4 address: " + addr);
    e.length = sizeof(sockaddr_in);
    e.family = AF_INET;
  }
  return e;
}

void raise_descriptor_limit() {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &limit);
  }
}

void set_nodelay(int fd) {
  const int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

void epoll_set(int ep, int op, int fd, std::uint32_t events) {
  epoll_event ev{};
  ev.events = events;
  ev.data.fd = fd;
  if (::epoll_ctl(ep, op, fd, &ev) != 0) fail("epoll_ctl: " + errno_text());
}

double seconds_since(clock_type::time_point start) {
  return std::chrono::duration<double>(clock_type::now() - start).count();
}

// --- serve: echo whatever arrives, level-triggered ---------------------------------------------

int serve(const options& o) {
  raise_descriptor_limit();
  const int ep = ::epoll_create1(EPOLL_CLOEXEC);
  if (ep < 0) fail("epoll_create1: " + errno_text());
  std::vector<int> listeners;
  for (const auto& addr : o.addrs) {
    const auto e = resolve(addr, o.port);
    const int fd = ::socket(e.family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) fail("socket: " + errno_text());
    const int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (e.family == AF_INET6) ::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    if (::bind(fd, e.address(), e.length) != 0) fail("bind " + addr + ": " + errno_text());
    if (::listen(fd, 4096) != 0) fail("listen: " + errno_text());
    epoll_set(ep, EPOLL_CTL_ADD, fd, EPOLLIN);
    listeners.push_back(fd);
  }
  // What a connection could not write back yet, by descriptor: rare with small requests, but an
  // echo that dropped bytes would hang its client.
  std::vector<std::string> pending;
  std::vector<char> buffer(65536);
  std::vector<epoll_event> events(1024);
  const auto started = clock_type::now();
  const auto close_conn = [&](int fd) {
    ::close(fd);
    if (static_cast<std::size_t>(fd) < pending.size()) pending[static_cast<std::size_t>(fd)].clear();
  };
  while (seconds_since(started) < o.max_seconds) {
    const int n = ::epoll_wait(ep, events.data(), static_cast<int>(events.size()), 1000);
    if (n < 0 && errno != EINTR) fail("epoll_wait: " + errno_text());
    for (int i = 0; i < n; ++i) {
      const int fd = events[static_cast<std::size_t>(i)].data.fd;
      const auto ready = events[static_cast<std::size_t>(i)].events;
      if (std::find(listeners.begin(), listeners.end(), fd) != listeners.end()) {
        for (;;) {
          const int conn = ::accept4(fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
          if (conn < 0) break;  // EAGAIN: the queue is empty; EMFILE: try again on the next wake-up
          set_nodelay(conn);
          if (static_cast<std::size_t>(conn) >= pending.size()) pending.resize(static_cast<std::size_t>(conn) + 1);
          epoll_set(ep, EPOLL_CTL_ADD, conn, EPOLLIN);
        }
        continue;
      }
      auto& out = pending[static_cast<std::size_t>(fd)];
      if ((ready & EPOLLOUT) != 0 && !out.empty()) {
        const auto sent = ::write(fd, out.data(), out.size());
        if (sent < 0 && errno != EAGAIN) {
          close_conn(fd);
          continue;
        }
        if (sent > 0) out.erase(0, static_cast<std::size_t>(sent));
        if (out.empty()) epoll_set(ep, EPOLL_CTL_MOD, fd, EPOLLIN);
        continue;
      }
      const auto got = ::read(fd, buffer.data(), buffer.size());
      if (got == 0 || (got < 0 && errno != EAGAIN)) {
        close_conn(fd);
        continue;
      }
      if (got < 0) continue;
      const auto length = static_cast<std::size_t>(got);
      const auto sent = ::write(fd, buffer.data(), length);
      if (sent < 0 && errno != EAGAIN) {
        close_conn(fd);
        continue;
      }
      const auto done = sent < 0 ? std::size_t{0} : static_cast<std::size_t>(sent);
      if (done < length) {
        // Reading stops until the rest is out: the peer waits for its echo anyway.
        out.append(buffer.data() + done, length - done);
        epoll_set(ep, EPOLL_CTL_MOD, fd, EPOLLOUT);
      }
    }
  }
  return 0;
}

// --- load --------------------------------------------------------------------------------------

// On-CPU time of every thread of these processes, in µs: schedstat's first field (ns, exact), or
// utime + stime in clock ticks where the kernel has no schedstat.
std::uint64_t cpu_us(const std::vector<int>& pids) {
  std::uint64_t total = 0;
  const auto ticks = static_cast<std::uint64_t>(::sysconf(_SC_CLK_TCK));
  for (const int pid : pids) {
    const auto task_dir = "/proc/" + std::to_string(pid) + "/task";
    DIR* dir = ::opendir(task_dir.c_str());
    if (dir == nullptr) continue;
    while (const dirent* entry = ::readdir(dir)) {
      if (entry->d_name[0] == '.') continue;
      const auto task = task_dir + "/" + entry->d_name;
      std::ifstream schedstat(task + "/schedstat");
      std::uint64_t ns = 0;
      if (schedstat >> ns) {
        total += ns / 1000;
        continue;
      }
      std::ifstream stat_file(task + "/stat");
      std::string line;
      std::getline(stat_file, line);
      const auto paren = line.rfind(')');
      if (paren == std::string::npos) continue;
      // After the command name: state is field 3, utime 14 and stime 15.
      std::istringstream fields(line.substr(paren + 2));
      std::string field;
      std::uint64_t utime = 0;
      std::uint64_t stime = 0;
      for (int index = 3; fields >> field && index <= 15; ++index) {
        if (index == 14) utime = std::strtoull(field.c_str(), nullptr, 10);
        if (index == 15) stime = std::strtoull(field.c_str(), nullptr, 10);
      }
      total += (utime + stime) * 1'000'000 / ticks;
    }
    ::closedir(dir);
  }
  return total;
}

enum class conn_state { connecting, warming, idle, busy, dead };

struct conn {
  int fd = -1;
  conn_state state = conn_state::connecting;
  clock_type::time_point sent;
  std::size_t received = 0;
};

std::uint64_t percentile(std::vector<std::uint32_t>& samples, double p) {
  if (samples.empty()) return 0;
  const auto index = std::min(samples.size() - 1, static_cast<std::size_t>(static_cast<double>(samples.size()) * p));
  std::nth_element(samples.begin(), samples.begin() + static_cast<std::ptrdiff_t>(index), samples.end());
  return samples[index];
}

int load(const options& o) {
  raise_descriptor_limit();
  const auto target = resolve(o.addrs.front(), o.port);
  const int ep = ::epoll_create1(EPOLL_CLOEXEC);
  if (ep < 0) fail("epoll_create1: " + errno_text());
  const std::string request(o.size, 'x');
  std::vector<conn> conns(o.conns);
  std::vector<std::size_t> by_fd;  // descriptor -> index in conns
  std::vector<char> buffer(65536);
  std::vector<epoll_event> events(1024);
  std::vector<std::uint32_t> samples;
  std::uint64_t requests = 0;
  std::uint64_t errors = 0;
  std::uint64_t late = 0;
  bool measuring = false;
  clock_type::time_point deadline;

  const auto lose = [&](conn& c) {
    ::close(c.fd);
    c.state = conn_state::dead;
    ++errors;
  };
  const auto send_request = [&](conn& c) {
    const auto sent = ::write(c.fd, request.data(), request.size());
    if (sent != static_cast<ssize_t>(request.size())) {
      // A partial write of 64 bytes into an empty socket buffer does not happen; anything short is a
      // broken connection.
      lose(c);
      return false;
    }
    c.sent = clock_type::now();
    c.received = 0;
    return true;
  };
  // One pass over what epoll reports; `timeout_ms` bounds the wait.
  const auto poll_once = [&](int timeout_ms, std::size_t& ready) {
    const int n = ::epoll_wait(ep, events.data(), static_cast<int>(events.size()), timeout_ms);
    if (n < 0 && errno != EINTR) fail("epoll_wait: " + errno_text());
    for (int i = 0; i < n; ++i) {
      const auto& ev = events[static_cast<std::size_t>(i)];
      auto& c = conns[by_fd[static_cast<std::size_t>(ev.data.fd)]];
      if (c.state == conn_state::connecting) {
        int error = 0;
        socklen_t length = sizeof error;
        ::getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &error, &length);
        if (error != 0 || (ev.events & (EPOLLERR | EPOLLHUP)) != 0) {
          lose(c);
          continue;
        }
        epoll_set(ep, EPOLL_CTL_MOD, c.fd, EPOLLIN);
        // The first round trip proves the whole path is up, the proxy's upstream connection too,
        // so that no measured request pays for a connect.
        if (send_request(c)) c.state = conn_state::warming;
        continue;
      }
      if (c.state != conn_state::warming && c.state != conn_state::busy) {
        // Bytes nobody asked for, or the peer closed an idle connection.
        lose(c);
        continue;
      }
      const auto got = ::read(c.fd, buffer.data(), buffer.size());
      if (got < 0 && errno == EAGAIN) continue;
      if (got <= 0) {
        lose(c);
        continue;
      }
      c.received += static_cast<std::size_t>(got);
      if (c.received < request.size()) continue;
      if (c.received > request.size()) {
        lose(c);
        continue;
      }
      const auto now = clock_type::now();
      if (c.state == conn_state::warming) {
        ++ready;
      } else if (measuring && now <= deadline) {
        ++requests;
        const auto us = std::chrono::duration_cast<std::chrono::microseconds>(now - c.sent).count();
        samples.push_back(static_cast<std::uint32_t>(std::min<long long>(us, UINT32_MAX)));
      }
      c.state = conn_state::idle;
    }
  };

  // Ramp: open every connection, at most in_flight not yet through.
  const auto ramp_start = clock_type::now();
  auto last_progress = ramp_start;
  std::size_t opened = 0;
  std::size_t ready = 0;
  while (ready + errors < o.conns) {
    if (seconds_since(ramp_start) > o.ramp_seconds || seconds_since(last_progress) > o.stall_seconds) break;
    while (opened < o.conns && opened - ready - errors < o.in_flight) {
      auto& c = conns[opened++];
      c.fd = ::socket(target.family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
      if (c.fd < 0) fail("socket (connection " + std::to_string(opened) + "): " + errno_text());
      set_nodelay(c.fd);
      if (static_cast<std::size_t>(c.fd) >= by_fd.size()) by_fd.resize(static_cast<std::size_t>(c.fd) + 1);
      by_fd[static_cast<std::size_t>(c.fd)] = opened - 1;
      if (::connect(c.fd, target.address(), target.length) != 0 && errno != EINPROGRESS) {
        lose(c);
        continue;
      }
      epoll_set(ep, EPOLL_CTL_ADD, c.fd, EPOLLOUT);
    }
    const auto before = ready + errors;
    poll_once(100, ready);
    if (ready + errors != before) last_progress = clock_type::now();
  }
  if (ready < o.conns) {
    fail("only " + std::to_string(ready) + " of " + std::to_string(o.conns) + " connections open after " +
         std::to_string(seconds_since(ramp_start)) + " s (" + std::to_string(errors) + " failed)");
  }
  std::fprintf(stderr, "conn_load: %zu connections open in %.2f s\n", ready, seconds_since(ramp_start));

  // Every connection sends once per interval, the connections spread evenly over it: connection i
  // at start + (k * conns + i) * step. A connection whose previous reply is still out skips its
  // turn (counted as late): one request outstanding each, as a real client waits for its answer.
  const auto start = clock_type::now();
  deadline = start + std::chrono::duration_cast<clock_type::duration>(std::chrono::duration<double>(o.seconds));
  const auto step =
      std::chrono::duration<double, std::nano>(static_cast<double>(o.interval_ms) * 1e6 / static_cast<double>(o.conns));
  samples.reserve(static_cast<std::size_t>(o.seconds * 1000.0 / static_cast<double>(o.interval_ms)) * o.conns);
  const auto cpu_before = cpu_us(o.pids);
  const auto errors_before = errors;
  measuring = true;
  std::uint64_t turn = 0;
  const auto turn_time = [&](std::uint64_t k) {
    return start + std::chrono::duration_cast<clock_type::duration>(step * static_cast<double>(k));
  };
  for (auto now = start; now < deadline; now = clock_type::now()) {
    for (; turn_time(turn) <= now; ++turn) {
      auto& c = conns[turn % o.conns];
      if (c.state == conn_state::idle) {
        if (send_request(c)) c.state = conn_state::busy;
      } else if (c.state == conn_state::busy) {
        ++late;
      }
    }
    // Millisecond waits: at 10 µs between turns the sends go out in bursts of one millisecond's worth,
    // which a client on a shared CPU cannot do better than anyway, and the loop does not spin.
    const auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(std::min(turn_time(turn), deadline) - now);
    std::size_t unused = 0;
    poll_once(static_cast<int>(std::max<long long>(1, wait.count())), unused);
  }
  const auto cpu_after = cpu_us(o.pids);
  const double elapsed = std::chrono::duration<double>(clock_type::now() - start).count();

  std::printf("conns=%zu\n", o.conns);
  std::printf("requests=%llu\n", static_cast<unsigned long long>(requests));
  std::printf("errors=%llu\n", static_cast<unsigned long long>(errors - errors_before));
  std::printf("late=%llu\n", static_cast<unsigned long long>(late));
  std::printf("req_per_s=%.1f\n", static_cast<double>(requests) / elapsed);
  std::printf("p50_us=%llu\n", static_cast<unsigned long long>(percentile(samples, 0.50)));
  std::printf("p99_us=%llu\n", static_cast<unsigned long long>(percentile(samples, 0.99)));
  if (!o.pids.empty() && requests > 0) {
    std::printf("cpu_us_per_request=%.2f\n",
                static_cast<double>(cpu_after - cpu_before) / static_cast<double>(requests));
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const auto o = parse(argc, argv);
  return o.command == "serve" ? serve(o) : load(o);
}
