#include "detour/net/host_pattern.hpp"

#include <catch2/catch.hpp>

using detour::net::host_pattern;
using detour::net::parse_host_pattern;
using kind = detour::net::host_pattern::kind;

namespace {

std::string why_not(std::string_view text) {
  std::string why;
  if (parse_host_pattern(text, &why)) return "(parsed)";
  return why;
}

}  // namespace

TEST_CASE("host patterns read as exact names, *. suffixes and keywords, lower-cased", "[net]") {
  CHECK(*parse_host_pattern("example.com") == host_pattern{kind::exact, "example.com"});
  CHECK(*parse_host_pattern("*.example.com") == host_pattern{kind::suffix, "example.com"});
  CHECK(*parse_host_pattern("keyword:tracker") == host_pattern{kind::keyword, "tracker"});
  CHECK(*parse_host_pattern("WWW.Example.COM") == host_pattern{kind::exact, "www.example.com"});
  CHECK(*parse_host_pattern("*.EXAMPLE.com") == host_pattern{kind::suffix, "example.com"});
  CHECK(*parse_host_pattern("Keyword:AdServer") == host_pattern{kind::keyword, "adserver"});
  CHECK(*parse_host_pattern("_dmarc.xn--bcher-kva.example") ==
        host_pattern{kind::exact, "_dmarc.xn--bcher-kva.example"});
  CHECK(*parse_host_pattern("localhost") == host_pattern{kind::exact, "localhost"});

  SECTION("a name's trailing dot is ignored, a keyword's is part of it") {
    CHECK(*parse_host_pattern("example.com.") == host_pattern{kind::exact, "example.com"});
    CHECK(*parse_host_pattern("*.example.com.") == host_pattern{kind::suffix, "example.com"});
    CHECK(*parse_host_pattern("keyword:ads.") == host_pattern{kind::keyword, "ads."});
  }
  SECTION("and write back as they read") {
    for (const char* text : {"example.com", "*.example.com", "keyword:tracker", "keyword:.cdn."}) {
      CHECK(parse_host_pattern(text)->to_string() == text);
    }
  }
}

TEST_CASE("a host pattern matches by its kind: the name, the name and below it, or a substring", "[net]") {
  auto exact = *parse_host_pattern("example.com");
  CHECK(exact.matches("example.com"));
  CHECK_FALSE(exact.matches("www.example.com"));
  CHECK_FALSE(exact.matches("example.co"));

  auto suffix = *parse_host_pattern("*.example.com");
  CHECK(suffix.matches("example.com"));
  CHECK(suffix.matches("www.example.com"));
  CHECK(suffix.matches("a.b.example.com"));
  CHECK_FALSE(suffix.matches("badexample.com"));
  CHECK_FALSE(suffix.matches("example.com.evil.net"));
  CHECK_FALSE(suffix.matches("com"));

  auto keyword = *parse_host_pattern("keyword:track");
  CHECK(keyword.matches("tracker.example.com"));
  CHECK(keyword.matches("www.backtrack.net"));
  CHECK_FALSE(keyword.matches("trac.k"));
}

TEST_CASE("a bad host pattern is refused with the text and the reason", "[net]") {
  CHECK(why_not("") == "\"\": not a host pattern (empty)");
  CHECK(why_not(".") == "\".\": not a host pattern (empty)");
  CHECK(why_not("*.") == "\"*.\": not a host pattern (nothing after \"*.\")");
  CHECK(why_not("*") == "\"*\": not a host pattern (nothing after \"*.\")");
  CHECK(why_not("a..b") == "\"a..b\": not a host pattern (an empty label)");
  CHECK(why_not("example.com..") == "\"example.com..\": not a host pattern (an empty label)");
  CHECK(why_not(".example.com") ==
        "\".example.com\": not a host pattern (an empty label; for example.com and every name under it write "
        "\"*.example.com\")");
  CHECK(why_not("*.*.example.com") ==
        "\"*.*.example.com\": not a host pattern ('*' may only start a pattern, as in \"*.example.com\")");
  CHECK(why_not("www.*.com") ==
        "\"www.*.com\": not a host pattern ('*' may only start a pattern, as in "
        "\"*.example.com\")");
  CHECK(why_not("ex ample.com") ==
        "\"ex ample.com\": not a host pattern (byte 0x20 is not a letter, digit, '-', '_' or '.')");
  CHECK(why_not("exa%mple.com") ==
        "\"exa%mple.com\": not a host pattern ('%' is not a letter, digit, '-', '_' or '.')");
  CHECK(why_not("b\xc3\xbc"
                "cher.de") ==
        "\"b\xc3\xbc"
        "cher.de\": not a host pattern (non-ASCII; write an internationalized name in its xn-- form)");
  CHECK(why_not("domain:example.com") ==
        "\"domain:example.com\": not a host pattern (unknown kind \"domain:\"; expected NAME, *.NAME or keyword:TEXT)");
  CHECK(why_not("keyword:") == "\"keyword:\": not a host pattern (an empty keyword)");
  CHECK(why_not("keyword:a/b") == "\"keyword:a/b\": not a host pattern ('/' is not a letter, digit, '-', '_' or '.')");
  CHECK(why_not("example.com:443") == "\"example.com:443\": not a host pattern (a port is not part of a host pattern)");

  SECTION("labels and names are bounded as DNS bounds them") {
    const std::string label63(63, 'a');
    CHECK(parse_host_pattern(label63 + ".com"));
    CHECK(why_not(label63 + "a.com") == "\"" + label63 + "a.com\": not a host pattern (the label \"" + label63 +
                                            "a\" is 64 characters, over the limit of 63)");
    std::string name253;
    while (name253.size() < 253) name253 += name253.empty() ? "a" : ".a";
    REQUIRE(name253.size() == 253);
    CHECK(parse_host_pattern(name253));
    CHECK(parse_host_pattern(name253 + "."));  // the trailing dot is not counted
    // A long pattern is shown by its first 80 characters.
    CHECK(why_not("b." + name253) ==
          "\"" + ("b." + name253).substr(0, 80) + "...\": not a host pattern (255 characters, over the limit of 253)");
  }
}
