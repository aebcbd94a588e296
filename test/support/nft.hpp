#pragma once
// The tests' own nft rules, which stand in for detourd's rule installer where a test is about
// something else (its tables are named detour_test...), and the kernel's ruleset read back as text.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace detour::test {

// The mark detourd puts on its upstream sockets by default; the tests' redirect rules skip it.
inline constexpr std::uint32_t detour_mark = 0x1d7;

// What redirect_output() leaves alone, as detourd's own rules would: its own connections (by
// mark), those of other proxies on the machine (by user id), and connections to `skip_destinations`
// (addresses of either family: the upstream servers, which the rule installer excludes).
struct redirect_exceptions {
  std::uint32_t skip_mark = detour_mark;
  std::vector<std::uint32_t> skip_uids{};
  std::vector<std::string> skip_destinations{};
};

// Sends every TCP connection made in this namespace to `port` (nat output hook), except
// `except`'s: table inet detour_test, chain output, `... meta l4proto tcp redirect to :PORT`.
void redirect_output(std::uint16_t port, const redirect_exceptions& except = {});

// The namespace most data-path tests start from: a fresh one (enter_new_netns()) with 10.77.0.2
// as a local address for upstream servers, and redirect_output() to a free port, which it returns
// for the test to start detourd on.
std::uint16_t enter_redirected_netns();

// The same for connections arriving on `interface` from elsewhere (nat prerouting hook), as on a
// gateway: the kernel redirects them to that interface's primary address.
void redirect_input(std::uint16_t port, std::string_view interface);

// Drops every TCP SYN to `port` in this namespace: a server that never answers.
void blackhole_port(std::uint16_t port);

// Drops the SYNs detourd (its sockets carry `mark`) sends to `address`: an upstream that never
// answers, while the redirected client connections to the same address still reach detourd (the
// nat output hook has rewritten them before this filter runs).
void blackhole_upstream(std::string_view address, std::uint32_t mark = detour_mark);

// Collapses every run of whitespace to one space and trims, so nft's line wrapping of long
// element lists does not matter when comparing with render_nft().
std::string normalize_whitespace(std::string_view text);

enum class counter_display { bare, values };

// `nft -y list ruleset` (numeric priorities), whitespace normalized, without the two lines an
// owned table adds ("# progname ...", "flags owner"), which the owner tests check separately. By
// default stateless (`nft -s`): each counter shows as a bare `counter`, as render_nft() prints it.
std::string kernel_ruleset(counter_display shown = counter_display::bare);

// `nft list table inet NAME` up to its first set: the table's flags, without the elements.
std::string table_header(std::string_view name);

}  // namespace detour::test
