#pragma once
// Real upstream proxies from Debian, started by the upstream tests inside their own namespace:
// microsocks (SOCKS5, optional username/password) and tinyproxy (HTTP CONNECT, optional Basic
// auth). Both run under their own user ids, which the tests' redirect rule skips: otherwise the
// proxies' own connections to the destinations would be redirected back into detourd.
#include "support/detourd_process.hpp"
#include "support/process.hpp"
#include "support/tcp.hpp"

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace detour::test {

inline constexpr std::uint32_t nobody_uid = 65534;
std::uint32_t tinyproxy_uid();

// A proxy program listening on `address()`, its output in a log file; started by the classes
// below, which return once it listens.
class proxy_process {
 public:
  const endpoint& address() const { return address_; }
  background_process& process() { return process_; }

 protected:
  proxy_process(const endpoint& listen_at, const std::vector<std::string>& argv, const std::filesystem::path& log);

 private:
  endpoint address_;
  background_process process_;
};

// How a proxy below is started; every field optional.
struct proxy_options {
  std::string username;  // empty: no authentication
  std::string password;
  // Bind-mounted over /etc/hosts for the proxy alone, in a mount namespace of its own (private
  // propagation, so the host's /etc/hosts never changes), so that the proxy resolves names the
  // test process cannot: what `resolve: remote` is for. glibc reads it through nsswitch's
  // "files", first on Debian. Empty: the host's /etc/hosts.
  std::filesystem::path hosts_file;
};

// microsocks listening on `listen_at` as user nobody. Logs "client[N] ADDR: connected to DEST",
// DEST being the name when it was asked for one.
class microsocks : public proxy_process {
 public:
  microsocks(const temp_dir& dir, const endpoint& listen_at, std::string_view username = "",
             std::string_view password = "");
  microsocks(const temp_dir& dir, const endpoint& listen_at, const proxy_options& options);
};

// tinyproxy listening on `listen_at`, switching to its own user; logs each CONNECT request line
// ("Request (file descriptor N): CONNECT host:port HTTP/1.1").
class tinyproxy : public proxy_process {
 public:
  tinyproxy(const temp_dir& dir, const endpoint& listen_at, std::string_view username = "",
            std::string_view password = "");
  tinyproxy(const temp_dir& dir, const endpoint& listen_at, const proxy_options& options);
};

// A fresh namespace standing for a workstation whose outbound TCP goes to detourd's `port`, by
// the tests' stand-in for the rule installer (support/nft.hpp): destinations on the local
// addresses 10.77.0.2 and fd77::2 and `more_destinations`, and the upstream `upstream_name`'s proxies on
// `proxy_addresses`. The rule leaves the proxies alone, as the installer excludes upstream
// servers, and so it does the proxies' own connections (by user id).
struct proxied_workstation {
  proxied_workstation(std::string upstream_name, const std::vector<std::string>& proxy_addresses,
                      const std::vector<std::string>& more_destinations = {});

  // A detourd config for `port` with the one upstream (its keys in `upstream_yaml`, indented
  // four spaces), which carries every connection.
  std::string upstream_config(std::string_view upstream_yaml) const;

  std::string name;
  std::uint16_t port;
  temp_dir dir;  // the proxies' config files and logs

 private:
  static std::uint16_t prepare(const std::vector<std::string>& proxy_addresses,
                               const std::vector<std::string>& more_destinations);
};

// Opens a connection to a server on `destination_ip` (port chosen by the kernel), sends 200 kB,
// the server answers with 300 kB once it has read them all and closes; both checked by hash (with
// Catch CHECKs). Request, then answer: the order every proxy carries. microsocks and tinyproxy
// end both directions at the first EOF, so a half-close would cut the other direction short
// (detourd's own half-close is covered by relay/splice_relay_test).
void exchange_and_check(const endpoint& destination_ip, std::uint64_t seed);

// Connects through `detourd`, whose upstream must fail, to a server on 10.77.0.2: the client is
// reset before any byte arrives, detourd logs `reason`, and the server never sees a connection
// (Catch CHECKs). Returns how long the client waited for its reset.
std::chrono::steady_clock::duration check_upstream_failure(const detourd_process& detourd, std::string_view reason);

}  // namespace detour::test
