#include "support/nft.hpp"

#include "support/netns.hpp"

#include <fmt/format.h>

#include <cctype>
#include <sstream>

namespace detour::test {

namespace {

// Loads `table inet NAME { chain CHAIN { HOOK; RULES } }` with nft -f.
void load_table(std::string_view name, std::string_view chain, std::string_view hook, std::string_view rules) {
  sh(
      fmt::format("nft -f - <<'EOF'\n"
                  "table inet {} {{\n"
                  "  chain {} {{\n"
                  "    {};\n"
                  "{}"
                  "  }}\n"
                  "}}\n"
                  "EOF",
                  name, chain, hook, rules));
}

}  // namespace

void redirect_output(std::uint16_t port, const redirect_exceptions& except) {
  std::string rules = fmt::format("    meta mark {:#x} return\n", except.skip_mark);
  if (!except.skip_uids.empty())
    rules += fmt::format("    meta skuid {{ {} }} return\n", fmt::join(except.skip_uids, ", "));
  std::vector<std::string> v4;
  std::vector<std::string> v6;
  for (const auto& address : except.skip_destinations) {
    (address.find(':') == std::string::npos ? v4 : v6).push_back(address);
  }
  if (!v4.empty()) rules += fmt::format("    ip daddr {{ {} }} return\n", fmt::join(v4, ", "));
  if (!v6.empty()) rules += fmt::format("    ip6 daddr {{ {} }} return\n", fmt::join(v6, ", "));
  rules += fmt::format("    meta l4proto tcp redirect to :{}\n", port);
  load_table("detour_test", "output", "type nat hook output priority -99", rules);
}

std::uint16_t enter_redirected_netns() {
  enter_new_netns();
  add_local_address("10.77.0.2/32");
  auto port = free_port();
  redirect_output(port);
  return port;
}

void redirect_input(std::uint16_t port, std::string_view interface) {
  load_table("detour_test", "prerouting", "type nat hook prerouting priority -99",
             fmt::format("    iifname \"{}\" meta l4proto tcp redirect to :{}\n", interface, port));
}

void blackhole_port(std::uint16_t port) {
  load_table("detour_test_blackhole", "input", "type filter hook input priority 0",
             fmt::format("    tcp dport {} drop\n", port));
}

void blackhole_upstream(std::string_view address, std::uint32_t mark) {
  bool v6 = address.find(':') != std::string_view::npos;
  load_table("detour_test_blackhole_upstream", "output", "type filter hook output priority 0",
             fmt::format("    meta mark {:#x} {} daddr {} drop\n", mark, v6 ? "ip6" : "ip", address));
}

std::string normalize_whitespace(std::string_view text) {
  std::string out;
  bool space = false;
  for (char c : text) {
    if (std::isspace(static_cast<unsigned char>(c))) {
      space = true;
      continue;
    }
    if (space && !out.empty()) out += ' ';
    space = false;
    out += c;
  }
  return out;
}

std::string kernel_ruleset(counter_display shown) {
  std::istringstream in(sh(shown == counter_display::bare ? "nft -s -y list ruleset" : "nft -y list ruleset"));
  std::string kept;
  std::string line;
  while (std::getline(in, line)) {
    if (auto comment = line.find(" # progname "); comment != std::string::npos) line.erase(comment);
    if (normalize_whitespace(line) == "flags owner") continue;
    kept += line + "\n";
  }
  return normalize_whitespace(kept);
}

std::string table_header(std::string_view name) {
  auto text = sh(fmt::format("nft list table inet {}", name));
  return text.substr(0, text.find("\n\tset"));
}

}  // namespace detour::test
