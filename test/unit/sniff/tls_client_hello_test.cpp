#include "detour/sniff/tls_client_hello.hpp"

#include "unit/sniff/sniff_captures.hpp"

#include <catch2/catch.hpp>

using namespace detour::sniff;
using detour::test::client_hello;
using detour::test::server_name_data;
using detour::test::sniff_capture;

namespace {

struct capture_case {
  const char* file;
  const char* name;
  bool ech;
};

// captures/README.md says which client sent each; Chromium's encrypted_client_hello is GREASE.
const capture_case tls_captures[] = {
    {"openssl-s_client.bin", "www.example.com", false}, {"curl-https.bin", "curl.example.org", false},
    {"python-ssl.bin", "python.example.org", false},    {"chromium.bin", "chromium.example.org", true},
    {"ech-outer.bin", "public.example.net", true},
};

// Feeds `stream` one byte more each call, as a client sending one byte a segment would arrive, and
// checks the need_more contract on every prefix. Returns the verdict on the whole.
sniff_result fed_byte_by_byte(const std::string& stream) {
  for (std::size_t seen = 0; seen < stream.size(); ++seen) {
    auto r = sniff_tls_client_hello(std::string_view(stream).substr(0, seen));
    INFO("after " << seen << " of " << stream.size() << " bytes");
    REQUIRE(r.status == sniff_status::need_more);
    CHECK(r.wanted > seen);
    CHECK(r.wanted <= stream.size());
    CHECK(r.wanted <= tls_sniff_bound);
    CHECK(r.proto == (seen >= 3 ? protocol::tls : protocol::none));
  }
  return sniff_tls_client_hello(stream);
}

sniff_result sniffed(const std::string& stream) { return sniff_tls_client_hello(stream); }

client_hello openssl_hello() { return client_hello::parse(sniff_capture("openssl-s_client.bin")); }

}  // namespace

TEST_CASE("every captured ClientHello gives its server name at once", "[sniff]") {
  for (const auto& c : tls_captures) {
    INFO(c.file);
    auto r = sniffed(sniff_capture(c.file));
    CHECK(r.status == sniff_status::found);
    CHECK(r.proto == protocol::tls);
    CHECK(r.name == c.name);
    CHECK(r.ech == c.ech);
    CHECK(r.detail.empty());
  }
}

TEST_CASE("a captured ClientHello fed one byte at a time waits until its last byte, then names the server", "[sniff]") {
  for (const auto& c : tls_captures) {
    INFO(c.file);
    auto r = fed_byte_by_byte(sniff_capture(c.file));
    CHECK(r.status == sniff_status::found);
    CHECK(r.name == c.name);
  }
}

TEST_CASE("once the record and handshake headers are in, wanted is exactly the end of the ClientHello", "[sniff]") {
  auto hello = sniff_capture("curl-https.bin");
  // The record header's first three bytes are checked one by one, its length as a whole, then
  // each byte of the handshake header.
  for (std::size_t seen : {0UL, 1UL, 2UL, 5UL, 6UL, 7UL, 8UL}) CHECK(sniffed(hello.substr(0, seen)).wanted == seen + 1);
  for (std::size_t seen : {3UL, 4UL}) CHECK(sniffed(hello.substr(0, seen)).wanted == 5);
  for (std::size_t seen = 9; seen < hello.size(); ++seen) CHECK(sniffed(hello.substr(0, seen)).wanted == hello.size());
}

TEST_CASE("Chromium's post-quantum ClientHello split over two segments is named after the second", "[sniff]") {
  auto hello = sniff_capture("chromium.bin");
  // X25519MLKEM768 (group 0x11ec) makes it larger than one 1448-byte segment of a 1500-byte MTU path.
  REQUIRE(hello.size() > 1448);
  REQUIRE(hello.find(std::string("\x11\xec\x04\xc0", 4)) != std::string::npos);
  auto first = sniffed(hello.substr(0, 1448));
  CHECK(first.status == sniff_status::need_more);
  CHECK(first.proto == protocol::tls);
  CHECK(first.wanted == hello.size());
  auto whole = sniffed(hello);
  CHECK(whole.status == sniff_status::found);
  CHECK(whole.name == "chromium.example.org");
  CHECK(whole.ech);
}

TEST_CASE("a ClientHello fragmented over several records is joined, the handshake header split too", "[sniff]") {
  for (const auto& c : tls_captures) {
    INFO(c.file);
    auto hello = client_hello::parse(sniff_capture(c.file));
    for (const auto& fragments : std::vector<std::vector<std::size_t>>{{1, 2, 1, 50}, {100, 100, 100}, {7}, {3, 1}}) {
      auto records = hello.records(fragments);
      INFO(records.size() << " bytes in records");
      auto r = fed_byte_by_byte(records);
      CHECK(r.status == sniff_status::found);
      CHECK(r.name == c.name);
      CHECK(r.ech == c.ech);
    }
  }
}

TEST_CASE("once a fragment's record header is in, wanted is the end of that record", "[sniff]") {
  auto records = openssl_hello().records({100});
  for (std::size_t seen = 9; seen < 105; ++seen) CHECK(sniffed(records.substr(0, seen)).wanted == 105);
  for (std::size_t seen = 105; seen < 108; ++seen) CHECK(sniffed(records.substr(0, seen)).wanted == seen + 1);
  for (std::size_t seen = 108; seen < 110; ++seen) CHECK(sniffed(records.substr(0, seen)).wanted == 110);
  for (std::size_t seen = 110; seen < records.size(); ++seen)
    CHECK(sniffed(records.substr(0, seen)).wanted == records.size());
}

TEST_CASE("a truncated ClientHello waits for the rest, and bytes after it are never looked at", "[sniff]") {
  auto hello = sniff_capture("openssl-s_client.bin");
  auto cut = sniffed(hello.substr(0, hello.size() - 1));
  CHECK(cut.status == sniff_status::need_more);
  CHECK(cut.wanted == hello.size());
  // A TLS 1.3 client in middlebox compatibility mode may send ChangeCipherSpec and early data next.
  auto r = sniffed(hello + "\x14\x03\x03\x00\x01\x01" + std::string(100, '\xff'));
  CHECK(r.status == sniff_status::found);
  CHECK(r.name == "www.example.com");
}

TEST_CASE("a ClientHello without server_name is no name, with the ECH flag still said", "[sniff]") {
  auto hello = openssl_hello();
  hello.remove(0);
  auto r = fed_byte_by_byte(hello.records());
  CHECK(r.status == sniff_status::no_name);
  CHECK(r.proto == protocol::tls);
  CHECK(r.detail == "no server_name extension");
  CHECK_FALSE(r.ech);

  auto outer = client_hello::parse(sniff_capture("ech-outer.bin"));
  outer.remove(0);
  auto without = sniffed(outer.records());
  CHECK(without.status == sniff_status::no_name);
  CHECK(without.ech);
}

TEST_CASE("a TLS 1.2 ClientHello without any extensions is no name", "[sniff]") {
  auto hello = openssl_hello();
  // The same fields with the extensions block left out, the lengths fixed.
  auto body = hello.head;
  auto records = std::string("\x16\x03\x01", 3) + detour::test::be16(body.size() + 4) + '\x01' + '\0' +
                 detour::test::be16(body.size()) + body;
  auto r = sniffed(records);
  CHECK(r.status == sniff_status::no_name);
  CHECK(r.detail == "ClientHello without extensions");
}

TEST_CASE("a server_name that is an address or not a host name gives no name", "[sniff]") {
  auto with_name = [](std::string_view name) {
    auto hello = openssl_hello();
    *hello.extension(0) = server_name_data(name);
    return sniffed(hello.records());
  };
  CHECK(with_name("WWW.Example.COM.").name == "www.example.com");
  CHECK(with_name("192.0.2.1").detail == "server_name is an IP address");
  CHECK(with_name("2001:db8::1").detail == "server_name is an IP address");
  CHECK(with_name("bad name.example").detail == "server_name is not a valid host name");
  CHECK(with_name("a..b").status == sniff_status::no_name);
  CHECK(with_name(std::string("nul\0.example", 12)).status == sniff_status::no_name);

  auto hello = openssl_hello();
  // name_type 1 is not defined; a host_name is type 0.
  *hello.extension(0) = detour::test::be16(6) + '\x01' + detour::test::be16(3) + "abc";
  auto r = sniffed(hello.records());
  CHECK(r.status == sniff_status::no_name);
  CHECK(r.detail == "server_name is not of type host_name");
}

TEST_CASE("a ClientHello whose lengths do not add up or that repeats an extension is malformed", "[sniff]") {
  auto malformed = [](const std::string& records) {
    auto r = sniffed(records);
    CHECK(r.proto == protocol::tls);
    return r.status == sniff_status::malformed ? std::string(r.detail) : "not malformed";
  };
  auto hello = openssl_hello();
  auto twice = hello;
  twice.extensions.emplace_back(0, server_name_data("other.example"));
  CHECK(malformed(twice.records()) == "server_name extension twice");

  auto two_names = hello;
  *two_names.extension(0) =
      detour::test::be16(16) + '\0' + detour::test::be16(5) + "a.com" + '\0' + detour::test::be16(5) + "b.com";
  CHECK(malformed(two_names.records()) == "server_name extension is not one name");
  auto empty_list = hello;
  *empty_list.extension(0) = detour::test::be16(0);
  CHECK(malformed(empty_list.records()) == "server_name extension is not one name");

  auto ech_twice = client_hello::parse(sniff_capture("ech-outer.bin"));
  ech_twice.extensions.emplace_back(0xfe0d, std::string(10, '\0'));
  CHECK(malformed(ech_twice.records()) == "encrypted_client_hello extension twice");

  // One byte off in the extensions length, the handshake length, a cipher suites length.
  auto bytes = sniff_capture("openssl-s_client.bin");
  auto longer_extensions = bytes;
  auto extensions_at = 9 + hello.head.size();
  longer_extensions[extensions_at + 1] = static_cast<char>(longer_extensions[extensions_at + 1] + 1);
  CHECK(malformed(longer_extensions) == "ClientHello extensions do not add up");
  auto shorter_handshake = bytes;
  shorter_handshake[8] = static_cast<char>(shorter_handshake[8] - 1);
  CHECK(malformed(shorter_handshake) == "ClientHello extensions do not add up");
  auto odd_suites = bytes;
  std::size_t suites_at = 9 + 2 + 32 + 1 + std::size_t{static_cast<unsigned char>(bytes[9 + 34])};
  odd_suites[suites_at + 1] = static_cast<char>(odd_suites[suites_at + 1] | 1);
  CHECK(malformed(odd_suites) == "ClientHello fields do not add up");
  CHECK(malformed(std::string("\x16\x03\x01\x00\x05\x01\x00\x00\x01\x03", 10)) == "ClientHello fields do not add up");
}

TEST_CASE("records that are not a ClientHello's fragments are malformed", "[sniff]") {
  auto malformed = [](const std::string& records) {
    auto r = sniffed(records);
    return r.status == sniff_status::malformed ? std::string(r.detail) : "not malformed";
  };
  auto split = openssl_hello().records({100});
  auto alert_between = split;
  alert_between[105] = '\x15';
  CHECK(malformed(alert_between) == "a record other than a handshake inside the ClientHello");
  auto bad_version = split;
  bad_version[106] = '\x02';
  CHECK(malformed(bad_version) == "a record other than a handshake inside the ClientHello");
  CHECK(malformed(std::string("\x16\x03\x01\x00\x00", 5)) == "TLS record length out of range");
  CHECK(malformed(std::string("\x16\x03\x01\x40\x01", 5)) == "TLS record length out of range");
  CHECK(malformed(std::string("\x16\x03\x01\x00\x10\x02", 6)) == "first handshake message is not a ClientHello");
}

TEST_CASE("a ClientHello that does not end within 16 KiB gives up early, one that ends at the bound is read",
          "[sniff]") {
  auto padded = [](std::size_t padding) {
    auto hello = openssl_hello();
    hello.extensions.emplace_back(21, std::string(padding, '\0'));  // padding (RFC 7685)
    return hello;
  };
  auto base = padded(0).records().size();
  // In one record and in two, the whole, record headers included, exactly the bound, then one over.
  auto one_record = padded(tls_sniff_bound - base).records();
  REQUIRE(one_record.size() == tls_sniff_bound);
  CHECK(sniffed(one_record).status == sniff_status::found);
  auto fits = padded(tls_sniff_bound - base - 5).records({8000});
  REQUIRE(fits.size() == tls_sniff_bound);
  CHECK(fed_byte_by_byte(fits).status == sniff_status::found);
  auto over = padded(tls_sniff_bound - base - 5 + 1).records({8000});
  REQUIRE(over.size() == tls_sniff_bound + 1);
  auto r = sniffed(over);
  CHECK(r.status == sniff_status::too_long);
  CHECK(r.detail == "ClientHello does not end within 16384 bytes");
  CHECK(r.proto == protocol::tls);
  // Known from the handshake length in the first record, before the rest arrives.
  CHECK(sniffed(over.substr(0, 9)).status == sniff_status::too_long);

  // One record can never carry more than 16379 handshake bytes within the bound: said when its
  // header is in.
  auto large = padded(20000).records({16384});
  CHECK(sniffed(large.substr(0, 9)).status == sniff_status::too_long);
  for (std::size_t seen = 0; seen < 9; ++seen) CHECK(sniffed(large.substr(0, seen)).status == sniff_status::need_more);
  // A handshake length that the bound cannot hold is said at once, whatever the record length.
  auto huge = std::string("\x16\x03\x01\x00\x10\x01\x01\x00\x00", 9);
  CHECK(sniffed(huge).status == sniff_status::too_long);
}

TEST_CASE("bytes that do not start a TLS handshake record are not recognized at the first byte that shows it",
          "[sniff]") {
  CHECK(sniffed("").status == sniff_status::need_more);
  CHECK(sniffed("").wanted == 1);
  CHECK(sniffed("G").status == sniff_status::not_recognized);
  CHECK(sniffed(std::string("\x16\x01", 2)).status == sniff_status::not_recognized);
  CHECK(sniffed(std::string("\x16\x03\x05", 3)).status == sniff_status::not_recognized);
  CHECK(sniffed(std::string("\x16\x03", 2)).status == sniff_status::need_more);
  auto r = sniffed(std::string("\x16\x03\x01", 3));
  CHECK(r.status == sniff_status::need_more);
  CHECK(r.proto == protocol::tls);
  CHECK(r.wanted == 5);
}
