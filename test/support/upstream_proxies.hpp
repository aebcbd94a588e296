#pragma once
// Real upstream proxies from Debian, started by the upstream tests inside their own namespace:
// microsocks (SOCKS5, optional username/password) and tinyproxy (HTTP CONNECT, optional Basic
// auth). Both run under their own user ids, which the tests' redirect rule skips: otherwise the
// proxies' own connections to the destinations would be redirected back into detourd.
#include "support/detourd_process.hpp"
#include "support/tcp.hpp"

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace detour::test {

// A program started for the test with its output in a file; killed by its pid when destroyed, and
// by the kernel if the test process dies first (PR_SET_PDEATHSIG).
class background_process {
 public:
  background_process(const std::vector<std::string>& argv, std::filesystem::path output);
  background_process(const background_process&) = delete;
  background_process& operator=(const background_process&) = delete;
  ~background_process();

  pid_t pid() const { return pid_; }
  std::string output() const;
  // True once `needle` is in the output; false if not within `timeout`. External programs have no
  // other way to say what they did, so this polls their log.
  bool wait_for_output(std::string_view needle, std::chrono::milliseconds timeout = 10s) const;

 private:
  pid_t pid_ = -1;
  std::filesystem::path output_;
};

// Returns once something in this namespace listens on `port` (read from /proc/net/tcp and tcp6,
// so no probe connection shows up in the server's log); throws after `timeout`.
void wait_until_listening(std::uint16_t port, std::chrono::milliseconds timeout = 10s);

inline constexpr std::uint32_t nobody_uid = 65534;
std::uint32_t tinyproxy_uid();

// microsocks listening on `listen_at` as user nobody. Logs "client[N] ADDR: connected to DEST".
class microsocks {
 public:
  microsocks(const temp_dir& dir, const endpoint& listen_at, std::string_view username = "",
             std::string_view password = "");
  const endpoint& address() const { return address_; }
  background_process& process() { return process_; }

 private:
  endpoint address_;
  background_process process_;
};

// tinyproxy listening on `listen_at`, switching to its own user; logs each CONNECT request.
class tinyproxy {
 public:
  tinyproxy(const temp_dir& dir, const endpoint& listen_at, std::string_view username = "",
            std::string_view password = "");
  const endpoint& address() const { return address_; }
  background_process& process() { return process_; }

 private:
  endpoint address_;
  background_process process_;
};

// The tests' stand-in for the rule installer: every TCP connection made in this namespace goes to
// detourd's `port`, except detourd's own (mark), the proxies' own (by user id) and connections to
// `excluded` addresses (the upstream servers, as the installer excludes them).
void redirect_except(std::uint16_t port, const std::vector<std::uint32_t>& uids,
                     const std::vector<std::string>& excluded);

// Opens a connection to a server on `destination_ip` (port chosen by the kernel), sends 200 kB,
// the server answers with 300 kB once it has read them all and closes; both checked by hash (with
// Catch CHECKs). Request, then answer: the order every proxy carries. microsocks and tinyproxy
// end both directions at the first EOF, so a half-close would cut the other direction short
// (detourd's own half-close is covered by relay/splice_relay_test).
void exchange_and_check(const endpoint& destination_ip, std::uint64_t seed);

// Connects and reads until the stream ends. A reset that arrives before connect_to() has seen its
// handshake complete (detourd resets as soon as it knows) counts as a reset with no bytes.
received read_after_connect(const endpoint& to);

// Drops every TCP SYN to `port` in this namespace: a server that never answers.
void blackhole_port(std::uint16_t port);

}  // namespace detour::test
