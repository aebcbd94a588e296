// What detourd does when the kernel will not give it pipes: out of descriptors (pipe2 EMFILE),
// or an unprivileged user over fs.pipe-user-pages-soft (F_SETPIPE_SZ EPERM, smaller pipes) or
// -hard (pipe2 ENFILE). Every transfer must arrive intact either way: a smaller pipe, or the copy
// fallback, never a failed connection.
#include "support/detourd_process.hpp"
#include "support/netns.hpp"
#include "support/nft.hpp"
#include "support/proc.hpp"
#include "support/prometheus_text.hpp"
#include "support/tcp.hpp"
#include "support/throw_errno.hpp"

#include "detour/admin/admin_client.hpp"

#include <catch2/catch.hpp>

#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

using namespace detour::test;

namespace {

// Lowers `pid`'s soft RLIMIT_NOFILE so that exactly `spare` descriptor numbers below it are free:
// the kernel hands out the lowest free number and refuses one at or above the limit, so the next
// `spare` descriptors (the sockets of the connections the test makes next) succeed and any after
// them (a pipe) fail with EMFILE; with no spare, every new one does. Restores the limit when it goes.
class descriptor_squeeze {
 public:
  descriptor_squeeze(pid_t pid, std::size_t spare) : pid_(pid) {
    if (::prlimit(pid_, RLIMIT_NOFILE, nullptr, &saved_) != 0) throw_errno("prlimit");
    std::set<int> open;
    for (const auto& entry : std::filesystem::directory_iterator(fmt::format("/proc/{}/fd", pid_))) {
      open.insert(std::stoi(entry.path().filename().string()));
    }
    std::size_t free = 0;
    rlim_t limit = 0;
    while (free < spare) {
      if (!open.contains(static_cast<int>(limit))) ++free;
      ++limit;
    }
    rlimit lowered{limit, saved_.rlim_max};
    if (::prlimit(pid_, RLIMIT_NOFILE, &lowered, nullptr) != 0) throw_errno("prlimit");
  }
  ~descriptor_squeeze() { release(); }
  descriptor_squeeze(const descriptor_squeeze&) = delete;
  descriptor_squeeze& operator=(const descriptor_squeeze&) = delete;
  void release() {
    if (released_) return;
    released_ = true;
    ::prlimit(pid_, RLIMIT_NOFILE, &saved_, nullptr);
  }

 private:
  pid_t pid_;
  rlimit saved_{};
  bool released_ = false;
};

// A global sysctl set for as long as this lives, and put back on every path out of the test (these
// are not per namespace: keep the window short).
class sysctl_override {
 public:
  sysctl_override(std::string name, std::string_view value) : path_("/proc/sys/" + std::move(name)) {
    std::ifstream in(path_);
    REQUIRE(in >> saved_);
    write(value);
  }
  ~sysctl_override() { write(saved_); }
  sysctl_override(const sysctl_override&) = delete;
  sysctl_override& operator=(const sysctl_override&) = delete;

 private:
  void write(std::string_view value) {
    std::ofstream out(path_);
    out << value << '\n';
  }
  std::string path_;
  std::string saved_;
};

// The seed of the payload a gated_server sends back: taken from the first 8 bytes the client
// sends, so that each connection carries its own bytes both ways and a mix-up shows in the hash.
std::uint64_t answer_seed(const payload& from_client) {
  std::array<char, 8> head{};
  from_client.fill(0, head);
  std::uint64_t seed = 0;
  std::memcpy(&seed, head.data(), head.size());
  return seed ^ 0x5a5a5a5a5a5a5a5aULL;
}

// Sends nothing until the client has sent 8 bytes (so no bytes move before the test has squeezed
// detourd), then sends `answer_size` bytes seeded by them and half-closes, while hashing all the
// client sends until its EOF.
class gated_server : public tcp_server {
 public:
  gated_server(const endpoint& listen_at, std::uint64_t answer_size)
      : tcp_server(listen_at, [answer_size](int fd) {
          sha1_hasher hasher;
          received_digest out;
          auto head = read_exactly(fd, 8, 60s);
          hasher.add(head.bytes);
          if (head.bytes.size() < 8) {
            out.end = head.end;
          } else {
            std::uint64_t seed = 0;
            std::memcpy(&seed, head.bytes.data(), 8);
            payload answer(seed ^ 0x5a5a5a5a5a5a5a5aULL, answer_size);
            std::jthread sender([fd, answer] {
              try {
                send_payload(fd, answer, 120s);
                shutdown_write(fd);
              } catch (const std::system_error&) {
                // The client reset or went away; the reader below reports how the stream ended.
              }
            });
            auto rest = read_until_eof(fd, 120s);
            hasher.add(rest.bytes);
            out.end = rest.end;
          }
          out.size = hasher.size();
          out.sha1 = hasher.hex();
          return out;
        }) {}
};

// detourd in direct mode with its admin endpoint, as the redirected namespace's tests run it;
// `launcher` as for detourd_process.
struct proxy_with_metrics {
  explicit proxy_with_metrics(const std::vector<std::string>& launcher = {})
      : port(enter_redirected_netns()),
        admin_port(free_port()),
        detourd(test_config(port, "direct", fmt::format("admin:\n  listen: 127.0.0.1:{}\n", admin_port)), {}, 20s,
                launcher) {}

  metric_samples scrape() const {
    auto res = detour::admin::http_request(at("127.0.0.1", admin_port), boost::beast::http::verb::get, "/metrics");
    REQUIRE(res.result_int() == 200);
    return metric_samples::parse(res.body());
  }

  std::uint16_t port;
  std::uint16_t admin_port;
  detourd_process detourd;
};

// Connects `count` clients through detourd and returns once the upstream has accepted them all:
// each is a relaying session by then.
std::vector<socket_fd> connect_all(const tcp_server& upstream, std::size_t count) {
  std::vector<socket_fd> clients;
  for (std::size_t i = 0; i < count; ++i) clients.push_back(connect_to(upstream.local_endpoint()));
  REQUIRE(upstream.wait_for_connections(count, 60s));
  return clients;
}

// Every payload came back as the gated_server answers it, and the server read each whole.
void check_intact(const std::vector<payload>& sent, const std::vector<received_digest>& got, gated_server& upstream,
                  std::uint64_t answer_size) {
  std::size_t intact = 0;
  for (std::size_t i = 0; i < sent.size(); ++i) {
    payload expected(answer_seed(sent[i]), answer_size);
    if (got[i].end == stream_end::eof && got[i].size == answer_size && got[i].sha1 == expected.sha1()) {
      ++intact;
    } else {
      UNSCOPED_INFO("connection " << i << ": " << to_string(got[i].end) << ", " << got[i].size << " bytes");
    }
  }
  CHECK(intact == sent.size());
  std::set<std::string> expected_up;
  for (const auto& p : sent) expected_up.insert(p.sha1());
  std::size_t read_whole = 0;
  for (std::size_t i = 0; i < sent.size(); ++i) {
    auto report = upstream.wait_for_report(60s);
    if (report.received.end == stream_end::eof && expected_up.erase(report.received.sha1) == 1) ++read_whole;
  }
  CHECK(read_whole == sent.size());
}

}  // namespace

TEST_CASE("when pipe2 fails for lack of descriptors, 128 transfers of 8 MiB each way cross intact by copy", "[relay]") {
  constexpr std::size_t connections = 128;
  constexpr std::uint64_t size = 8ULL * 1024 * 1024;
  raise_descriptor_limit(4 * connections);
  proxy_with_metrics proxy;
  gated_server upstream(at("10.77.0.2", 0), size);
  std::vector<payload> payloads;
  for (std::size_t i = 0; i < connections; ++i) payloads.emplace_back(7000 + i, size);

  // Connected first, then squeezed to no spare descriptor at all: while descriptors were left, each
  // relay's first attempt to read made a pipe, and the worker's pool keeps such a pipe once empty.
  // What little the pools hold idle now (a pipe or two per worker) moves from direction to
  // direction; every other direction has to copy.
  auto clients = connect_all(upstream, connections);
  descriptor_squeeze squeeze(proxy.detourd.pid(), 0);
  const auto started = std::chrono::steady_clock::now();
  auto got = exchange_concurrently(std::move(clients), payloads, 240s);
  squeeze.release();  // the scrape needs a descriptor
  const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - started);

  check_intact(payloads, got, upstream, size);
  auto metrics = proxy.scrape();
  WARN(fmt::format("copy fallbacks {}, pipes shrunk {}", metrics.value("detour_relay_copy_fallbacks_total"),
                   metrics.value("detour_pipes_shrunk_total")));
  CHECK(metrics.value("detour_relay_copy_fallbacks_total") >= 2 * connections);
  CHECK(metrics.value("detour_copy_buffers_in_use") == 0);
  CHECK(proxy.detourd.wait_for_log("relay: no pipe: pipe2: Too many open files"));
  // At most one a second, although every direction ran short of pipes many times over.
  CHECK(proxy.detourd.count_log_lines("relay: no pipe") <= static_cast<std::size_t>(seconds.count()) + 1);
  CHECK(proxy.detourd.stop() == 0);
  CHECK(proxy.detourd.stop_counter("relayed") == connections + 1);  // and the scrape's own connection
}

// Hidden from test discovery: the pipe page limits are global, not per namespace, and while they are
// lowered every unprivileged process on the machine gets small pipes or none. CTest runs it on its
// own (RUN_SERIAL, test/CMakeLists.txt), so no other test runs in that window.
TEST_CASE("detourd as nobody over the per-user pipe page limits relays every transfer intact",
          "[.][relay][global_sysctl]") {
  constexpr std::size_t connections = 32;
  constexpr std::uint64_t size = 8ULL * 1024 * 1024;
  raise_descriptor_limit(4 * connections);
  // As systemd's User=nobody with AmbientCapabilities=CAP_NET_ADMIN runs it: no CAP_SYS_RESOURCE.
  proxy_with_metrics proxy({"/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                            "--inh-caps=+net_admin", "--ambient-caps=+net_admin", "--"});
  gated_server upstream(at("10.77.0.2", 0), size);
  std::vector<payload> payloads;
  for (std::size_t i = 0; i < connections; ++i) payloads.emplace_back(9000 + i, size);
  auto clients = connect_all(upstream, connections);

  SECTION("over fs.pipe-user-pages-soft: F_SETPIPE_SZ is refused and the pipes are smaller") {
    std::vector<received_digest> got;
    {
      // One page is below what the first pipe takes (16): every pipe nobody makes from now on is
      // over the limit, whatever the user holds already.
      sysctl_override soft("fs/pipe-user-pages-soft", "1");
      got = exchange_concurrently(std::move(clients), payloads, 240s);
    }
    check_intact(payloads, got, upstream, size);
    auto metrics = proxy.scrape();
    CHECK(metrics.value("detour_pipes_shrunk_total") > 0);
    CHECK(
        proxy.detourd.wait_for_log("relay: pipes smaller than asked: F_SETPIPE_SZ 256 KiB: Operation not "
                                   "permitted: over fs.pipe-user-pages-soft=1 pages"));
  }
  SECTION("over fs.pipe-user-pages-hard as well: pipe2 fails and the copy fallback carries the bytes") {
    std::vector<received_digest> got;
    {
      sysctl_override soft("fs/pipe-user-pages-soft", "1");
      sysctl_override hard("fs/pipe-user-pages-hard", "1");
      got = exchange_concurrently(std::move(clients), payloads, 240s);
    }
    check_intact(payloads, got, upstream, size);
    auto metrics = proxy.scrape();
    CHECK(metrics.value("detour_relay_copy_fallbacks_total") > 0);
    CHECK(proxy.detourd.wait_for_log("relay: no pipe: pipe2: Too many open files in system"));
  }
  CHECK(proxy.detourd.stop() == 0);
  CHECK(proxy.detourd.stop_counter("relayed") == connections + 1);  // and the scrape's own connection
}

namespace {

// One session whose directions can have no pipe: connected, then squeezed (see
// descriptor_squeeze; the session's two sockets are its spare).
struct copying_session {
  template <typename Server>
  explicit copying_session(proxy_with_metrics& proxy, Server& upstream)
      : squeeze(proxy.detourd.pid(), 2), client(std::move(connect_all(upstream, 1).front())) {}

  descriptor_squeeze squeeze;
  socket_fd client;
};

}  // namespace

TEST_CASE("a reset in the middle of a relay that copies is carried to the other side", "[relay]") {
  proxy_with_metrics proxy;
  SECTION("the client resets") {
    // A server that only reads: one that wrote back (an echo) would fail on its own write first.
    sink_server upstream(at("10.77.0.2", 0));
    copying_session session(proxy, upstream);
    // Bytes are in flight through the copy buffer, or queued behind it, when the client resets.
    send_payload(session.client.get(), payload(11, 200'000));
    reset_connection(session.client);
    CHECK(upstream.wait_for_report().received.end == stream_end::reset);
    CHECK(proxy.detourd.wait_for_log("reason=client reset"));
    session.squeeze.release();  // the scrape needs a descriptor
    CHECK(proxy.scrape().value("detour_relay_copy_fallbacks_total") >= 1);
  }
  SECTION("the upstream resets") {
    resetting_server upstream(at("10.77.0.2", 0));
    copying_session session(proxy, upstream);
    send_all(session.client.get(), "x");
    CHECK(read_until_eof(session.client.get()).end == stream_end::reset);
    CHECK(proxy.detourd.wait_for_log("reason=upstream reset"));
  }
  CHECK(proxy.detourd.count_log_lines("reason=no descriptors") == 0);
}

TEST_CASE("a relay that copies passes each half-close on while the other direction flows", "[relay]") {
  proxy_with_metrics proxy;
  SECTION("the client half-closes first") {
    sink_server upstream(at("10.77.0.2", 0));
    copying_session session(proxy, upstream);
    payload sent(12, 300'000);
    // The sink answers only after it has read EOF: the answer proves both halves.
    auto got = send_and_read_answer(std::move(session.client), sent);
    CHECK(got.reply.end == stream_end::eof);
    CHECK(got.reply.bytes == sent.sha1() + "\n");
  }
  SECTION("the upstream half-closes first") {
    constexpr std::uint64_t size = 300'000;
    gated_server upstream(at("10.77.0.2", 0), size);
    copying_session session(proxy, upstream);
    payload up(13, 100'000);
    send_payload(session.client.get(), up);
    auto got = hash_until_eof(session.client.get());
    CHECK(got.end == stream_end::eof);
    CHECK(got.sha1 == payload(answer_seed(up), size).sha1());
    // After the upstream's FIN reached the client, the client's direction is still open.
    send_all(session.client.get(), "more");
    shutdown_write(session.client.get());
    auto seen = upstream.wait_for_report();
    CHECK(seen.received.end == stream_end::eof);
    CHECK(seen.received.size == up.size() + 4);
  }
  CHECK(proxy.detourd.wait_for_log("reason=eof"));
}

TEST_CASE("64 MiB cross each way at once through copy buffers, intact", "[relay]") {
  constexpr std::uint64_t size = 64ULL * 1024 * 1024;
  proxy_with_metrics proxy;
  gated_server upstream(at("10.77.0.2", 0), size);
  std::vector<payload> payloads{payload(14, size)};
  std::vector<received_digest> got;
  {
    copying_session session(proxy, upstream);
    std::vector<socket_fd> clients;
    clients.push_back(std::move(session.client));
    got = exchange_concurrently(std::move(clients), payloads, 120s);
  }
  check_intact(payloads, got, upstream, size);
  auto metrics = proxy.scrape();
  CHECK(metrics.value("detour_relay_copy_fallbacks_total") >= 2);
  // Not detour_pipes_in_use: the scrape's own connection is relayed, through a pipe.
  CHECK(metrics.value("detour_copy_buffers_in_use") == 0);
  CHECK(proxy.detourd.wait_for_log(fmt::format("up={} down={}", size, size)));
}
