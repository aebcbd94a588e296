#include "detour/rules/capture_self_test.hpp"

#include "detour/net/sockaddr.hpp"
#include "detour/net/socket_options.hpp"
#include "detour/rules/rule_counters.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <optional>
#include <system_error>
#include <vector>

namespace detour::rules {
namespace {

using boost::asio::ip::tcp;
using clock = std::chrono::steady_clock;

// Long enough for a loaded machine to answer over loopback, short enough not to hold a start.
constexpr auto phase_timeout = std::chrono::seconds(2);

class owned_fd {
 public:
  explicit owned_fd(int fd) : fd_(fd) {}
  ~owned_fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  owned_fd(const owned_fd&) = delete;
  owned_fd& operator=(const owned_fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

// `unreachable`: no route to the destination at all (IPv6 without ::1 on loopback).
enum class failure { none, refused, timed_out, not_ours, unreachable, other };

struct attempt {
  failure what = failure::none;
  std::string detail;  // the errno text, or the answer as received
};

// Waits for `events` until `deadline`; false on timeout. EINTR cannot end it early: the daemon's
// signals are blocked.
bool wait_for(int fd, short events, clock::time_point deadline) {
  for (int round = 0; round < 1000; ++round) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock::now()).count();
    if (left <= 0) return false;
    pollfd p{fd, events, 0};
    int n = ::poll(&p, 1, static_cast<int>(left));
    if (n > 0) return true;
    if (n == 0) return false;
    if (errno != EINTR) return false;
  }
  return false;
}

std::string errno_text(int error_number) { return std::generic_category().message(error_number); }

attempt connect_error(int error_number) {
  switch (error_number) {
    case ECONNREFUSED:
      return {failure::refused, errno_text(error_number)};
    case ETIMEDOUT:
      return {failure::timed_out, errno_text(error_number)};
    case ENETUNREACH:
    case EADDRNOTAVAIL:
      return {failure::unreachable, errno_text(error_number)};
    default:
      return {failure::other, errno_text(error_number)};
  }
}

attempt connect_once(int fd, const tcp::endpoint& target) {
  if (::connect(fd, target.data(), static_cast<socklen_t>(target.size())) != 0 && errno != EINPROGRESS) {
    return connect_error(errno);
  }
  if (!wait_for(fd, POLLOUT, clock::now() + phase_timeout))
    return {failure::timed_out, "no answer to its SYN within 2s"};
  int error_number = 0;
  socklen_t length = sizeof error_number;
  ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &error_number, &length);
  if (error_number != 0) return connect_error(error_number);
  return {};
}

// Reads until the peer closes, a line ends or the deadline passes; the answer is one short line.
attempt read_answer(int fd, const tcp::endpoint& target) {
  const auto deadline = clock::now() + phase_timeout;
  std::string answer;
  char buffer[256];
  while (answer.size() < 4096 && answer.find('\n') == std::string::npos) {
    if (!wait_for(fd, POLLIN, deadline)) return {failure::not_ours, "no answer within 2s"};
    auto n = ::recv(fd, buffer, sizeof buffer, 0);
    if (n == 0) break;
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) continue;
      return {failure::not_ours, fmt::format("{} after {} bytes", errno_text(errno), answer.size())};
    }
    answer.append(buffer, static_cast<std::size_t>(n));
  }
  if (answer == self_test_answer(target)) return {};
  if (answer.empty()) return {failure::not_ours, "closed without a byte"};
  if (answer.back() == '\n') answer.pop_back();
  return {failure::not_ours, fmt::format("answered \"{}\"", answer)};
}

// The self_test rule's packet counter, to tell whether our rule saw the connection at all;
// nullopt if it cannot be read (the message then leaves that out).
std::optional<std::uint64_t> rule_packets(const std::string& table) {
  try {
    for (const auto& c : read_rule_counters(table)) {
      if (c.chain == "output" && c.rule == "self_test") return c.packets;
    }
  } catch (const detour::error&) {
  }
  return std::nullopt;
}

// What our rule's counter tells about where the connection went, which narrows the cause down.
std::string counted(failure what, std::optional<std::uint64_t> before, std::optional<std::uint64_t> after,
                    std::uint16_t port) {
  if (!before || !after) return "";
  if (*after == *before) {
    switch (what) {
      case failure::refused:
        return " Our self_test rule saw no packet of it, so it was untracked or its NAT was decided before our "
               "chain ran.";
      case failure::timed_out:
        return " Our self_test rule saw no packet of it, so it was dropped before our chain ran.";
      default:
        return " Our self_test rule saw no packet of it, so a nat chain before ours decided where it went.";
    }
  }
  switch (what) {
    case failure::refused:
      return fmt::format(" Our self_test rule did redirect it (to port {}), yet nothing accepted it there.", port);
    case failure::timed_out:
      return fmt::format(
          " Our self_test rule did redirect it (to port {}), so it was dropped after that (hook input?).", port);
    default:
      return fmt::format(
          " Our self_test rule did redirect it (to port {}), so detourd took it but could not read its original "
          "destination (its log says why, under SO_ORIGINAL_DST).",
          port);
  }
}

std::string cause(failure what, const config& cfg) {
  const int priority = cfg.intercept.priority;
  switch (what) {
    case failure::refused:
      return fmt::format(
          "the nat output hook did not redirect it (no NAT for this family, conntrack disabled for it (notrack), or "
          "another nat table at a lower priority than {} took the connection first). Check `nft list ruleset` (and "
          "`iptables-save -t raw`) for a notrack rule or a nat output chain below priority {}, and that the kernel "
          "has nf_conntrack and nf_nat for this family",
          priority, priority);
    case failure::timed_out:
      return "it was dropped before it reached detourd (a filter rule?). Check `nft list ruleset` (and "
             "`iptables-save`) for a rule that drops loopback traffic on hook output or input";
    case failure::not_ours:
      return fmt::format(
          "it reached something other than detourd, or detourd could not read the original destination "
          "(SO_ORIGINAL_DST failed, so detourd refused it as not redirected). Check `nft list ruleset` for a nat "
          "output chain below priority {} that redirects or DNATs it elsewhere, and detourd's log for "
          "\"SO_ORIGINAL_DST\"",
          priority);
    case failure::unreachable:
    case failure::other:
    case failure::none:
      break;
  }
  return "the connection failed";
}

// Adds the family to `passed`, or to `skipped` with the reason it cannot be tested here; throws
// capture_self_test_error when the capture does not work for it.
void test_family(const config& cfg, const tcp::endpoint& target, const char* family, std::vector<std::string>& passed,
                 std::vector<std::string>& skipped) {
  const bool v6 = target.address().is_v6();
  owned_fd fd(::socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (fd.get() < 0) {
    int e = errno;
    // The listeners are IPv4-only on such a kernel too (daemon/run), so there is nothing to test.
    if (v6 && e == EAFNOSUPPORT) {
      skipped.push_back(fmt::format("{} (not available)", family));
      return;
    }
    throw capture_self_test_error(fmt::format("capture self-test ({}): socket: {}", family, errno_text(e)));
  }
  if (auto ec = net::set_mark(fd.get(), self_test_mark)) {
    throw capture_self_test_error(
        fmt::format("capture self-test ({}): setting SO_MARK {:#x} failed: {} (needs CAP_NET_ADMIN); set "
                    "intercept.self_test: false to skip this check",
                    family, self_test_mark, ec.message()));
  }
  const auto before = rule_packets(cfg.intercept.table);
  auto result = connect_once(fd.get(), target);
  if (result.what == failure::none) result = read_answer(fd.get(), target);
  if (result.what == failure::none) {
    passed.push_back(family);
    return;
  }
  // A host with IPv6 but without ::1 on loopback cannot reach the self-test destination at all.
  if (v6 && result.what == failure::unreachable) {
    skipped.push_back(fmt::format("{} (connecting to [::1]: {})", family, result.detail));
    return;
  }
  const auto after = rule_packets(cfg.intercept.table);
  throw capture_self_test_error(
      fmt::format("capture self-test ({}) failed: a marked connection to {}: {}: {}.{} Fix that and restart, or set "
                  "intercept.self_test: false to skip this check",
                  family, net::to_string(target), result.detail, cause(result.what, cfg),
                  counted(result.what, before, after, cfg.port)));
}

}  // namespace

tcp::endpoint self_test_destination_v4() {
  return {boost::asio::ip::make_address_v4("127.255.255.254"), self_test_port};
}

tcp::endpoint self_test_destination_v6() { return {boost::asio::ip::address_v6::loopback(), self_test_port}; }

std::string self_test_answer(const tcp::endpoint& original) {
  return fmt::format("detourd-self-test {} {}\n", ::getpid(), net::to_string(original));
}

bool plans_self_test(const config& cfg) {
  const auto& ic = cfg.intercept;
  return ic.self_test && (ic.outbound.enabled || ic.inbound.enabled);
}

void run_capture_self_test(const config& cfg) {
  if (!cfg.intercept.enabled || !plans_self_test(cfg)) return;
  std::vector<std::string> passed;
  std::vector<std::string> skipped;
  test_family(cfg, self_test_destination_v4(), "ipv4", passed, skipped);
  test_family(cfg, self_test_destination_v6(), "ipv6", passed, skipped);
  if (skipped.empty()) {
    spdlog::info("detourd: capture self-test passed ({})", fmt::join(passed, ", "));
  } else {
    spdlog::warn("detourd: capture self-test passed ({}); skipped {}", fmt::join(passed, ", "),
                 fmt::join(skipped, ", "));
  }
}

}  // namespace detour::rules
