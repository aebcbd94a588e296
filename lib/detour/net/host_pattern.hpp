#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace detour::net {

// A pattern a route's `hosts:` matches server names with (the TLS SNI or HTTP Host a connection
// sent). Names are compared as the router receives them: lower-case, without a trailing dot.
struct host_pattern {
  enum class kind : std::uint8_t {
    exact,    // "example.com": that name only
    suffix,   // "*.example.com": example.com itself and every name under it
    keyword,  // "keyword:tracker": every name containing the text
  };
  kind match = kind::exact;
  // Normalized: lower-case; for exact and suffix the name without "*." and without a trailing dot.
  std::string text;

  bool matches(std::string_view name) const;
  // The form parse_host_pattern reads back: "example.com", "*.example.com", "keyword:tracker".
  std::string to_string() const;
  friend bool operator==(const host_pattern&, const host_pattern&) = default;
};

// Reads "example.com", "*.example.com" or "keyword:TEXT", case-insensitively and ignoring one
// trailing dot of a name. Names are ASCII (an internationalized name in its xn-- form), of labels
// of letters, digits, '-' and '_', each 1 to 63 characters, 253 in all; a keyword is 1 to 253 of
// those characters and dots. Returns nullopt and sets `why` ("\"*.\": not a host pattern (...)")
// on failure.
std::optional<host_pattern> parse_host_pattern(std::string_view text, std::string* why = nullptr);

}  // namespace detour::net
