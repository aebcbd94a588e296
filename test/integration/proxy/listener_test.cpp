// detourd's listeners: SO_REUSEPORT sockets on 0.0.0.0 and ::, one per worker, and a port that
// another process holds refused at startup with a message that names it.
#include "support/detourd_process.hpp"
#include "support/netns.hpp"
#include "support/tcp.hpp"

#include <catch2/catch.hpp>

#include <netinet/in.h>
#include <sys/socket.h>

using namespace detour::test;

TEST_CASE("detourd run exits non-zero and names the port when the port is in use", "[listener]") {
  enter_new_netns();
  auto port = free_port();
  temp_dir dir;
  auto file = dir.write("detour.yaml", test_config(port, "direct"));
  // A plain listener without SO_REUSEPORT: detourd's reuseport listeners cannot share its port.
  auto [family, any, shown] = GENERATE(table<int, const char*, const char*>({
      {AF_INET, "0.0.0.0", "0.0.0.0"},
      {AF_INET6, "::", "[::]"},
  }));
  auto holder = socket_fd(::socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0));
  int on = 1;
  if (family == AF_INET6) ::setsockopt(holder.get(), IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof on);
  auto address = at(any, port);
  REQUIRE(::bind(holder.get(), address.data(), static_cast<socklen_t>(address.size())) == 0);
  REQUIRE(::listen(holder.get(), 1) == 0);

  auto run = run_detourd({"run", "-c", file.string()});

  CHECK(run.exit_code == 1);
  CHECK(run.err == fmt::format("detourd: listen on {}:{}: bind: Address already in use (another process is "
                               "listening on that port; choose another with --port or `port:`)\n",
                               shown, port));
}

TEST_CASE("detourd listens on 0.0.0.0 and :: with one socket per worker", "[listener]") {
  enter_new_netns();
  auto port = free_port();
  detourd_process detourd(test_config(port, "echo"), {"--workers", "3"});

  auto listeners = sh(fmt::format("ss -Hltn 'sport = :{}'", port));
  auto count = [&](std::string_view local) {
    std::size_t n = 0;
    for (auto at = listeners.find(local); at != std::string::npos; at = listeners.find(local, at + 1)) ++n;
    return n;
  };
  INFO(listeners);
  CHECK(count(fmt::format("0.0.0.0:{} ", port)) == 3);
  CHECK(count(fmt::format("[::]:{} ", port)) == 3);
}
