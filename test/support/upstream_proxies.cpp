#include "support/upstream_proxies.hpp"

#include "support/netns.hpp"

#include <fmt/format.h>
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <stdexcept>
#include <system_error>
#include <thread>

namespace detour::test {

using clock_type = std::chrono::steady_clock;

background_process::background_process(const std::vector<std::string>& argv, std::filesystem::path output)
    : output_(std::move(output)) {
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  int fd = ::open(output_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw std::system_error(errno, std::generic_category(), "open " + output_.string());
  pid_ = ::fork();
  if (pid_ < 0) throw std::system_error(errno, std::generic_category(), "fork");
  if (pid_ == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    ::dup2(fd, STDOUT_FILENO);
    ::dup2(fd, STDERR_FILENO);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  ::close(fd);
}

background_process::~background_process() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  int status = 0;
  ::waitpid(pid_, &status, 0);
}

std::string background_process::output() const {
  std::ifstream in(output_);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

bool background_process::wait_for_output(std::string_view needle, std::chrono::milliseconds timeout) const {
  auto deadline = clock_type::now() + timeout;
  for (;;) {
    if (output().find(needle) != std::string::npos) return true;
    if (clock_type::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

namespace {

bool listening_on(std::uint16_t port) {
  // /proc/net/tcp: "sl local_address rem_address st ...", address "0A4D000A:0438", state 0A LISTEN.
  auto suffix = fmt::format(":{:04X}", port);
  for (const char* file : {"/proc/net/tcp", "/proc/net/tcp6"}) {
    std::ifstream in(file);
    std::string line;
    std::getline(in, line);
    while (std::getline(in, line)) {
      std::istringstream fields(line);
      std::string slot, local, remote, state;
      fields >> slot >> local >> remote >> state;
      if (state == "0A" && local.ends_with(suffix)) return true;
    }
  }
  return false;
}

}  // namespace

void wait_until_listening(std::uint16_t port, std::chrono::milliseconds timeout) {
  auto deadline = clock_type::now() + timeout;
  while (!listening_on(port)) {
    if (clock_type::now() >= deadline) throw std::runtime_error(fmt::format("nothing listens on port {}", port));
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

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

}  // namespace

microsocks::microsocks(const temp_dir& dir, const endpoint& listen_at, std::string_view username,
                       std::string_view password)
    : address_(listen_at),
      process_(microsocks_argv(listen_at, username, password),
               dir.path() / fmt::format("microsocks-{}.log", listen_at.port())) {
  wait_until_listening(listen_at.port());
}

tinyproxy::tinyproxy(const temp_dir& dir, const endpoint& listen_at, std::string_view username,
                     std::string_view password)
    : address_(listen_at),
      process_({"/usr/bin/tinyproxy", "-d", "-c", tinyproxy_config(dir, listen_at, username, password).string()},
               dir.path() / fmt::format("tinyproxy-{}.log", listen_at.port())) {
  wait_until_listening(listen_at.port());
}

void redirect_except(std::uint16_t port, const std::vector<std::uint32_t>& uids,
                     const std::vector<std::string>& excluded) {
  std::string rules = fmt::format("    meta mark {:#x} return\n", detour_mark);
  if (!uids.empty()) rules += fmt::format("    meta skuid {{ {} }} return\n", fmt::join(uids, ", "));
  std::vector<std::string> v4;
  std::vector<std::string> v6;
  for (const auto& address : excluded) (address.find(':') == std::string::npos ? v4 : v6).push_back(address);
  if (!v4.empty()) rules += fmt::format("    ip daddr {{ {} }} return\n", fmt::join(v4, ", "));
  if (!v6.empty()) rules += fmt::format("    ip6 daddr {{ {} }} return\n", fmt::join(v6, ", "));
  sh(
      fmt::format("nft -f - <<'EOF'\n"
                  "table inet detour_test {{\n"
                  "  chain output {{\n"
                  "    type nat hook output priority -99;\n"
                  "{}"
                  "    meta l4proto tcp redirect to :{}\n"
                  "  }}\n"
                  "}}\n"
                  "EOF",
                  rules, port));
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

received read_after_connect(const endpoint& to) {
  try {
    auto client = connect_to(to);
    return read_until_eof(client.get());
  } catch (const std::system_error& e) {
    if (e.code() != std::errc::connection_reset) throw;
    return {{}, stream_end::reset};
  }
}

void blackhole_port(std::uint16_t port) {
  sh(
      fmt::format("nft -f - <<'EOF'\n"
                  "table inet detour_test_blackhole {{\n"
                  "  chain input {{\n"
                  "    type filter hook input priority 0;\n"
                  "    tcp dport {} drop\n"
                  "  }}\n"
                  "}}\n"
                  "EOF",
                  port));
}

}  // namespace detour::test
