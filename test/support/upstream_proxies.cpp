#include "support/upstream_proxies.hpp"

#include "support/netns.hpp"
#include "support/nft.hpp"
#include "support/proc.hpp"

#include <fmt/format.h>
#include <catch2/catch.hpp>

#include <pwd.h>

#include <filesystem>
#include <stdexcept>

namespace detour::test {

std::uint32_t tinyproxy_uid() {
  const passwd* entry = ::getpwnam("tinyproxy");
  if (entry == nullptr) throw std::runtime_error("no user tinyproxy: apt-get install tinyproxy");
  return entry->pw_uid;
}

namespace {

std::vector<std::string> microsocks_argv(const endpoint& at, std::string_view username, std::string_view password) {
  std::vector<std::string> argv{"/usr/bin/setpriv",
                                fmt::format("--reuid={}", nobody_uid),
                                fmt::format("--regid={}", nobody_uid),
                                "--clear-groups",
                                "/usr/bin/microsocks",
                                "-i",
                                at.address().to_string(),
                                "-p",
                                std::to_string(at.port())};
  if (!username.empty()) {
    argv.insert(argv.end(), {"-u", std::string(username), "-P", std::string(password)});
  }
  return argv;
}

std::filesystem::path tinyproxy_config(const temp_dir& dir, const endpoint& at, std::string_view username,
                                       std::string_view password) {
  // No LogFile: in the foreground (-d) tinyproxy logs to stderr, which we capture. No ConnectPort:
  // every port may be tunnelled.
  auto text = fmt::format(
      "User tinyproxy\nGroup tinyproxy\nPort {}\nListen {}\nTimeout 60\nLogLevel Connect\n"
      "MaxClients 50\nAllow 10.77.0.0/16\nAllow 127.0.0.1\nDisableViaHeader Yes\n",
      at.port(), at.address().to_string());
  if (!username.empty()) text += fmt::format("BasicAuth {} {}\n", username, password);
  return dir.write(fmt::format("tinyproxy-{}.conf", at.port()), text);
}

// `argv` started in a mount namespace of its own, with `hosts_file` over /etc/hosts there; as is
// without one. unshare(1) does not fork, so the pid stays the proxy's (and its death signal, set
// before exec, still applies), and its default propagation, private, keeps the bind mount from
// reaching the host. The shell execs the proxy once the mount is made.
std::vector<std::string> with_hosts_file(std::vector<std::string> argv, const std::filesystem::path& hosts_file) {
  if (hosts_file.empty()) return argv;
  std::vector<std::string> wrapped{"/usr/bin/unshare",
                                   "--mount",
                                   "--propagation",
                                   "private",
                                   "/bin/sh",
                                   "-c",
                                   "mount --bind \"$0\" /etc/hosts && exec \"$@\"",
                                   hosts_file.string()};
  wrapped.insert(wrapped.end(), argv.begin(), argv.end());
  return wrapped;
}

// "10.77.0.2" → "10.77.0.2/32", "fd77::2" → "fd77::2/128".
std::string host_prefix(std::string_view address) {
  return fmt::format("{}/{}", address, address.find(':') == std::string_view::npos ? 32 : 128);
}

}  // namespace

proxy_process::proxy_process(const endpoint& listen_at, const std::vector<std::string>& argv,
                             const std::filesystem::path& log)
    : address_(listen_at), process_(argv, log) {
  wait_until_listening(listen_at.port());
}

microsocks::microsocks(const temp_dir& dir, const endpoint& listen_at, std::string_view username,
                       std::string_view password)
    : microsocks(dir, listen_at, proxy_options{std::string(username), std::string(password), {}}) {}

microsocks::microsocks(const temp_dir& dir, const endpoint& listen_at, const proxy_options& options)
    : proxy_process(listen_at,
                    with_hosts_file(microsocks_argv(listen_at, options.username, options.password), options.hosts_file),
                    dir.path() / fmt::format("microsocks-{}.log", listen_at.port())) {}

tinyproxy::tinyproxy(const temp_dir& dir, const endpoint& listen_at, std::string_view username,
                     std::string_view password)
    : tinyproxy(dir, listen_at, proxy_options{std::string(username), std::string(password), {}}) {}

tinyproxy::tinyproxy(const temp_dir& dir, const endpoint& listen_at, const proxy_options& options)
    : proxy_process(listen_at,
                    with_hosts_file({"/usr/bin/tinyproxy", "-d", "-c",
                                     tinyproxy_config(dir, listen_at, options.username, options.password).string()},
                                    options.hosts_file),
                    dir.path() / fmt::format("tinyproxy-{}.log", listen_at.port())) {}

proxied_workstation::proxied_workstation(std::string upstream_name, const std::vector<std::string>& proxy_addresses,
                                         const std::vector<std::string>& more_destinations)
    : name(std::move(upstream_name)), port(prepare(proxy_addresses, more_destinations)) {}

std::uint16_t proxied_workstation::prepare(const std::vector<std::string>& proxy_addresses,
                                           const std::vector<std::string>& more_destinations) {
  enter_new_netns();
  add_local_address("10.77.0.2/32");
  add_local_address("fd77::2/128");
  for (const auto* addresses : {&more_destinations, &proxy_addresses}) {
    for (const auto& address : *addresses) add_local_address(host_prefix(address));
  }
  auto detourd_port = free_port();
  redirect_output(detourd_port, {.skip_uids = {nobody_uid, tinyproxy_uid()}, .skip_destinations = proxy_addresses});
  return detourd_port;
}

std::string proxied_workstation::upstream_config(std::string_view upstream_yaml) const {
  return test_config(
      port, "direct",
      fmt::format("upstreams:\n  {0}:\n{1}routes:\n  - default: {{upstream: {0}}}\n", name, upstream_yaml));
}

void exchange_and_check(const endpoint& destination_ip, std::uint64_t seed) {
  payload up(seed, 200'000);
  payload down(seed + 1, 300'000);
  tcp_server server(destination_ip, [&](int fd) {
    auto request = read_exactly(fd, static_cast<std::size_t>(up.size()));
    received_digest seen{request.bytes.size(), sha1_hex(request.bytes), request.end};
    send_payload(fd, down);
    return seen;
  });
  auto client = connect_to(server.local_endpoint());
  send_payload(client.get(), up);
  auto got = hash_until_eof(client.get());
  auto seen = server.wait_for_report();
  CHECK(seen.received.size == up.size());
  CHECK(seen.received.sha1 == up.sha1());
  CHECK(got.end == stream_end::eof);
  CHECK(got.size == down.size());
  CHECK(got.sha1 == down.sha1());
}

std::chrono::steady_clock::duration check_upstream_failure(const detourd_process& detourd, std::string_view reason) {
  sink_server destination(at("10.77.0.2", 0));
  auto started = std::chrono::steady_clock::now();
  auto got = read_after_connect(destination.local_endpoint());
  auto waited = std::chrono::steady_clock::now() - started;
  CHECK(got.end == stream_end::reset);
  CHECK(got.bytes.empty());
  CHECK(detourd.wait_for_log(reason));
  CHECK(destination.connections_accepted() == 0);
  return waited;
}

}  // namespace detour::test
