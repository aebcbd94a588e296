// What one access log line costs the worker that writes it: the JSON built and serialised from a
// session record into the worker's batch. Run:
//   ninja -C build access_log_bench && build/test/access_log_bench
#include "detour/config/config.hpp"
#include "detour/proxy/access_log_entry.hpp"

#include <benchmark/benchmark.h>

namespace {

using namespace std::chrono_literals;
using detour::proxy::outcome;
using detour::proxy::session_record;

boost::asio::ip::tcp::endpoint ep(const char* address, std::uint16_t port) {
  return {boost::asio::ip::make_address(address), port};
}

// A relayed connection through an upstream: every field has a value, the longest line there is.
session_record relayed_record(bool v6) {
  session_record r;
  r.id = 123456789;
  r.snapshot = detour::proxy::make_snapshot(detour::parse_config(
      "upstreams: {corp: {kind: socks5, address: \"10.1.0.5:1080\"}}\nroutes: [{default: {upstream: corp}}]\n",
      "bench.yaml"));
  r.source = v6 ? ep("2001:db8:1234::5", 51234) : ep("10.0.0.5", 51234);
  r.local = v6 ? ep("::1", 15001) : ep("127.0.0.1", 15001);
  r.original = v6 ? ep("2001:db8:ffff::22", 443) : ep("93.184.216.34", 443);
  r.decision = r.snapshot->router.decide({r.source, *r.original});
  r.server = ep("10.1.0.5", 1080);
  r.connected = r.start + 3ms;
  r.bytes_up = 517;
  r.bytes_down = 1'234'567;
  r.reason = "eof";
  return r;
}

void append_entry(benchmark::State& state) {
  const auto record = relayed_record(state.range(0) != 0);
  std::string batch;
  batch.reserve(64 * 1024);
  const auto end = std::chrono::system_clock::now();
  for (auto _ : state) {
    detour::proxy::append_access_log_entry(batch, record, outcome::relayed, end);
    // As the worker's batch does at 64 KiB: hand over (here: forget) and start again.
    if (batch.size() >= 64 * 1024) batch.clear();
    benchmark::DoNotOptimize(batch.data());
  }
  state.SetItemsProcessed(state.iterations());
}

}  // namespace

BENCHMARK(append_entry)->ArgName("ipv6")->Arg(0)->Arg(1);

BENCHMARK_MAIN();
