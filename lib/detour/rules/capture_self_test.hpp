#pragma once
// The capture self-test: before detourd says it is ready, it proves on this kernel that a
// connection through its own nat output hook reaches it with a readable original destination.
// Rules that install cleanly can still capture nothing: conntrack off for a family, a notrack rule,
// another nat table that takes the connection first, a filter that drops it.
#include "detour/config/config.hpp"
#include "detour/error.hpp"

#include <boost/asio/ip/tcp.hpp>

#include <cstdint>
#include <string>

namespace detour::rules {

// The SO_MARK of the self-test's sockets, which the `self_test` rule matches. Distinct from the
// default `mark` (0x1d7); a collision with any other mark is harmless, because the rule also
// requires destination port 0 (see self_test_port).
inline constexpr std::uint32_t self_test_mark = 0x1d7e57;

// Port 0 can never be listened on, so no real connection goes there: without detourd a
// connection to it is refused. That is what makes it a reserved destination on every address.
inline constexpr std::uint16_t self_test_port = 0;

// The destinations the self-test connects to: an IPv4 loopback address no service binds to on
// purpose, and the only IPv6 loopback address.
boost::asio::ip::tcp::endpoint self_test_destination_v4();
boost::asio::ip::tcp::endpoint self_test_destination_v6();

// The connection a self-test makes: marked with self_test_mark, to a reserved destination that
// one rule of our table redirects to detourd's port. A worker that sees this original destination
// answers it itself (self_test_answer) instead of routing it. Inline, and one comparison: it runs
// for every redirected connection.
inline bool is_self_test_destination(const boost::asio::ip::tcp::endpoint& original) {
  return original.port() == self_test_port;
}

// What a worker writes to a self-test connection: "detourd-self-test PID DESTINATION\n", the pid
// proving it was this process and the destination what SO_ORIGINAL_DST read.
std::string self_test_answer(const boost::asio::ip::tcp::endpoint& original);

// Whether make_plan() puts the `self_test` rule into the plan of `cfg`: with intercept.self_test
// on and at least one direction captured.
bool plans_self_test(const config& cfg);

// The self-test failed: what() names the family, the cause and what to do.
class capture_self_test_error : public detour::error {
 public:
  using detour::error::error;
};

// Connects once per family (IPv4; IPv6 where the kernel has it) to the self-test destination,
// marked, within 2 s, and checks the answer. Logs "detourd: capture self-test passed (ipv4, ipv6)".
// Needs the owned rules installed and the workers running. Does nothing when the plan has no
// self-test rule. Throws capture_self_test_error.
void run_capture_self_test(const config& cfg);

}  // namespace detour::rules
