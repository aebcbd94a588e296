#include "detour/upstream/resource_failure.hpp"

#include <catch2/catch.hpp>

using detour::upstream::explain;
using detour::upstream::failure_kind;
using detour::upstream::resource_context;

TEST_CASE("a connect that ran out of descriptors names the limit and its remedy", "[upstream]") {
  resource_context context;
  context.descriptor_limit = 128;
  auto out = explain("socket: Too many open files", failure_kind::no_descriptors, context);
  CHECK(out.text == "no descriptors: socket: Too many open files (RLIMIT_NOFILE 128)");
  CHECK(out.kind == failure_kind::no_descriptors);
  CHECK(out.remedy == "raise LimitNOFILE= (ulimit -n) or lower limits.max_connections");
}

TEST_CASE("a connect that ran out of local ports names the port range", "[upstream]") {
  resource_context context;
  context.ports = detour::net::local_port_range{40000, 40003};
  auto out = explain("Cannot assign requested address", failure_kind::no_ports, context);
  CHECK(out.text ==
        "no local ports: Cannot assign requested address (net.ipv4.ip_local_port_range 40000-40003 (4 ports), each "
        "usable once per destination)");
  CHECK(out.kind == failure_kind::no_ports);
  CHECK_FALSE(out.remedy.empty());
  SECTION("the range unreadable: the kernel's reason alone") {
    CHECK(explain("Cannot assign requested address", failure_kind::no_ports, {}).text ==
          "no local ports: Cannot assign requested address");
  }
}

TEST_CASE("a connect timeout while the conntrack table is full is told as conntrack full", "[upstream]") {
  resource_context context;
  SECTION("full") {
    context.conntrack = detour::net::conntrack_usage{65500, 65536};
    auto out = explain("connect timeout", failure_kind::timeout, context);
    CHECK(out.kind == failure_kind::conntrack_full);
    CHECK(out.text ==
          "conntrack full: connect timeout (nf_conntrack_count 65500 of nf_conntrack_max 65536: the kernel drops new "
          "connections' packets)");
    CHECK(out.remedy == "raise net.netfilter.nf_conntrack_max");
    CHECK(to_string(out.kind) == "conntrack full");
  }
  SECTION("the output hook's drop as EPERM counts too") {
    context.conntrack = detour::net::conntrack_usage{65536, 65536};
    CHECK(explain("Operation not permitted", failure_kind::other, context).kind == failure_kind::conntrack_full);
  }
  SECTION("room in the table: a timeout is a timeout") {
    context.conntrack = detour::net::conntrack_usage{60000, 65536};
    auto out = explain("connect timeout", failure_kind::timeout, context);
    CHECK(out.kind == failure_kind::timeout);
    CHECK(out.text == "connect timeout");
    CHECK(out.remedy.empty());
  }
  SECTION("a refusal is an answer, so never a full table") {
    context.conntrack = detour::net::conntrack_usage{65536, 65536};
    CHECK(explain("Connection refused", failure_kind::refused, context).kind == failure_kind::refused);
  }
  SECTION("conntrack not loaded") {
    CHECK(explain("connect timeout", failure_kind::timeout, context).kind == failure_kind::timeout);
  }
}

TEST_CASE("only what a failure's kind calls for is read", "[upstream]") {
  auto descriptors = detour::upstream::read_resource_context(failure_kind::no_descriptors);
  CHECK(descriptors.descriptor_limit > 0);
  CHECK_FALSE(descriptors.ports);
  CHECK_FALSE(descriptors.conntrack);
  auto ports = detour::upstream::read_resource_context(failure_kind::no_ports);
  CHECK(ports.ports);
  CHECK(ports.descriptor_limit == 0);
  auto refused = detour::upstream::read_resource_context(failure_kind::refused);
  CHECK_FALSE(refused.ports);
  CHECK_FALSE(refused.conntrack);
}
