#include "detour/doctor/namespace_probe.hpp"

#include "detour/doctor/proc_values.hpp"
#include "detour/net/original_dst.hpp"
#include "detour/net/sockaddr.hpp"
#include "detour/rules/nft_installer.hpp"

#include <fmt/format.h>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <system_error>

namespace detour::doctor {
namespace {

using boost::asio::ip::tcp;

// The discard port: nothing listens there in a fresh namespace, so only the redirect can make a
// connection to it succeed.
constexpr std::uint16_t probed_port = 9;
// Any port does in a namespace that holds nothing else.
constexpr std::uint16_t listen_port = 10009;

std::string errno_text(std::string_view what, int e) {
  return fmt::format("{}: {}", what, std::generic_category().message(e));
}

probe_step failed(std::string detail) { return {probe_outcome::failed, std::move(detail)}; }

// lo starts down in a new namespace; 127.0.0.1 and ::1 work only once it is up.
probe_step bring_loopback_up() {
  int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return failed(errno_text("socket(AF_INET)", errno));
  ifreq request{};
  std::strncpy(request.ifr_name, "lo", IFNAMSIZ - 1);
  int rc = ::ioctl(fd, SIOCGIFFLAGS, &request);
  if (rc == 0) {
    request.ifr_flags = static_cast<short>(request.ifr_flags | IFF_UP);
    rc = ::ioctl(fd, SIOCSIFFLAGS, &request);
  }
  int e = errno;
  ::close(fd);
  if (rc != 0) return failed(errno_text("bringing lo up", e));
  return {probe_outcome::ok, {}};
}

probe_step enter_sandbox() {
  // Root gets a plain network namespace. A process without CAP_SYS_ADMIN and CAP_NET_ADMIN
  // unshares a user namespace around it, which holds every capability over that network
  // namespace and nothing else: the kernel's nat is tested all the same.
  auto caps = effective_capabilities();
  bool privileged = has_capability(caps, cap_sys_admin) && has_capability(caps, cap_net_admin);
  int flags = privileged ? CLONE_NEWNET : CLONE_NEWUSER | CLONE_NEWNET;
  if (::unshare(flags) != 0) {
    return failed(errno_text(privileged ? "unshare(CLONE_NEWNET)" : "unshare(CLONE_NEWUSER | CLONE_NEWNET)", errno));
  }
  return bring_loopback_up();
}

rules::rule_plan probe_plan(int priority) {
  using rules::field;
  rules::rule redirect{"doctor",
                       {{field::l4proto, false, {}, IPPROTO_TCP}, {field::tcp_dport, false, {}, probed_port}},
                       rules::verdict::redirect,
                       listen_port};
  return {"detour_doctor", {}, {{"output", rules::hook::output, priority, {redirect}}}};
}

probe_step redirected_connection(boost::asio::io_context& io, const boost::asio::ip::address& loopback) {
  const tcp::endpoint target(loopback, probed_port);
  const tcp::endpoint local(loopback, listen_port);
  boost::system::error_code ec;
  tcp::acceptor acceptor(io);
  acceptor.open(local.protocol(), ec);
  if (!ec) acceptor.bind(local, ec);
  if (ec == boost::asio::error::address_family_not_supported || ec == boost::system::errc::address_not_available) {
    return {probe_outcome::unavailable, fmt::format("{} cannot be bound: {}", net::to_string(local), ec.message())};
  }
  if (!ec) acceptor.listen(8, ec);
  if (ec) return failed(fmt::format("listening on {}: {}", net::to_string(local), ec.message()));

  tcp::socket client(io);
  client.connect(target, ec);
  if (ec) {
    return failed(fmt::format("a connection to {} was not redirected to {} ({})", net::to_string(target),
                              net::to_string(local), ec.message()));
  }
  auto accepted = acceptor.accept(ec);
  if (ec) return failed(fmt::format("accept on {}: {}", net::to_string(local), ec.message()));
  std::error_code oec;
  auto original = net::original_destination(accepted.native_handle(), oec);
  if (oec) return failed(fmt::format("SO_ORIGINAL_DST of a redirected connection: {}", oec.message()));
  if (!original || net::unmap(*original) != target) {
    return failed(fmt::format("SO_ORIGINAL_DST gave {} instead of {}",
                              original ? net::to_string(*original) : std::string("nothing"), net::to_string(target)));
  }
  return {probe_outcome::ok, net::to_string(target)};
}

namespace_probe_result run_in_child(int priority) {
  namespace_probe_result r;
  const probe_step not_reached{probe_outcome::unavailable, "not reached"};
  r.nat = r.ipv4 = r.ipv6 = not_reached;
  r.sandbox = enter_sandbox();
  if (r.sandbox.outcome != probe_outcome::ok) return r;
  // An owned table goes when its socket closes, so the installer lives until the connections are
  // made.
  std::optional<rules::nft_installer> installer;
  try {
    installer.emplace();
    installer->install(probe_plan(priority), rules::ownership::owner);
    r.nat = {probe_outcome::ok, {}};
  } catch (const std::exception& e) {
    r.nat = failed(e.what());
    return r;
  }
  boost::asio::io_context io;
  r.ipv4 = redirected_connection(io, boost::asio::ip::address_v4::loopback());
  r.ipv6 = redirected_connection(io, boost::asio::ip::address_v6::loopback());
  return r;
}

[[noreturn]] void child_main(int report_fd, int priority) {
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  std::string report;
  try {
    report = encode(run_in_child(priority));
  } catch (const std::exception& e) {
    namespace_probe_result r;
    r.sandbox = failed(fmt::format("the test failed: {}", e.what()));
    report = encode(r);
  }
  for (std::size_t done = 0; done < report.size();) {
    auto n = ::write(report_fd, report.data() + done, report.size() - done);
    if (n <= 0) break;
    done += static_cast<std::size_t>(n);
  }
  ::_exit(0);
}

// Reads the child's report until EOF or the deadline; false on timeout.
bool read_report(int fd, std::chrono::steady_clock::time_point deadline, std::string& out) {
  std::array<char, 4096> buffer{};
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd p{fd, POLLIN, 0};
    int rc = ::poll(&p, 1, static_cast<int>(left.count()));
    if (rc < 0 && errno == EINTR) continue;
    if (rc == 0) return false;
    if (rc < 0) return true;
    auto n = ::read(fd, buffer.data(), buffer.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return true;
    out.append(buffer.data(), static_cast<std::size_t>(n));
  }
}

namespace_probe_result sandbox_failure(std::string detail) {
  namespace_probe_result r;
  r.sandbox = failed(std::move(detail));
  return r;
}

}  // namespace

std::string encode(const namespace_probe_result& r) {
  std::string text;
  for (const auto* step : {&r.sandbox, &r.nat, &r.ipv4, &r.ipv6}) {
    auto detail = step->detail;
    std::replace(detail.begin(), detail.end(), '\n', ' ');
    text += fmt::format("{} {}\n", static_cast<int>(step->outcome), detail);
  }
  return text;
}

std::optional<namespace_probe_result> decode(std::string_view text) {
  namespace_probe_result r;
  for (auto* step : {&r.sandbox, &r.nat, &r.ipv4, &r.ipv6}) {
    auto end = text.find('\n');
    if (end == std::string_view::npos || end < 2 || text[1] != ' ') return std::nullopt;
    int outcome = text[0] - '0';
    if (outcome < 0 || outcome > static_cast<int>(probe_outcome::unavailable)) return std::nullopt;
    step->outcome = static_cast<probe_outcome>(outcome);
    step->detail = std::string(text.substr(2, end - 2));
    text.remove_prefix(end + 1);
  }
  return r;
}

namespace_probe_result probe_in_throwaway_namespace(int priority, std::chrono::milliseconds timeout) {
  std::array<int, 2> fds{};
  if (::pipe2(fds.data(), O_CLOEXEC) != 0) return sandbox_failure(errno_text("pipe2", errno));
  pid_t pid = ::fork();
  if (pid < 0) {
    int e = errno;
    ::close(fds[0]);
    ::close(fds[1]);
    return sandbox_failure(errno_text("fork", e));
  }
  if (pid == 0) {
    ::close(fds[0]);
    child_main(fds[1], priority);
  }
  ::close(fds[1]);
  std::string report;
  bool finished = read_report(fds[0], std::chrono::steady_clock::now() + timeout, report);
  ::close(fds[0]);
  if (!finished) ::kill(pid, SIGKILL);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!finished) return sandbox_failure(fmt::format("the test did not finish within {} ms", timeout.count()));
  auto r = decode(report);
  if (!r) return sandbox_failure(fmt::format("the test process ended without a report (wait status {})", status));
  return *r;
}

}  // namespace detour::doctor
