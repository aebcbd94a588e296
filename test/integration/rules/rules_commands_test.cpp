#include "support/netns.hpp"
#include "support/capture.hpp"

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>
#include <thread>

using detour::test::enter_new_netns;
using detour::test::sh;

namespace {

std::uint16_t free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  ::bind(fd, reinterpret_cast<sockaddr*>(&sin), sizeof sin);
  socklen_t len = sizeof sin;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&sin), &len);
  ::close(fd);
  return ntohs(sin.sin_port);
}

// detourd run in echo mode, its stderr read until it says it is ready (bounded).
class detourd_process {
 public:
  explicit detourd_process(std::uint16_t port, const char* mode = "echo") {
    int fds[2];
    REQUIRE(::pipe2(fds, O_CLOEXEC) == 0);
    pid_ = ::fork();
    REQUIRE(pid_ >= 0);
    if (pid_ == 0) {
      ::dup2(fds[1], STDERR_FILENO);
      auto port_text = std::to_string(port);
      ::execl(DETOURD_PATH, "detourd", "run", "--mode", mode, "--workers", "1", "--port", port_text.c_str(),
              static_cast<char*>(nullptr));
      ::_exit(127);
    }
    ::close(fds[1]);
    stderr_ = fds[0];
    REQUIRE(wait_for("detourd: ready"));
  }

  ~detourd_process() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    ::close(stderr_);
  }

  // Reads stderr until `text` appears; false after 10 s or at EOF.
  bool wait_for(const std::string& text) {
    char buf[4096];
    for (int i = 0; i < 100 && log_.find(text) == std::string::npos; ++i) {
      pollfd p{stderr_, POLLIN, 0};
      if (::poll(&p, 1, 100) <= 0) continue;
      auto n = ::read(stderr_, buf, sizeof buf);
      if (n <= 0) break;
      log_.append(buf, static_cast<std::size_t>(n));
    }
    return log_.find(text) != std::string::npos;
  }

  int signal_and_wait(int sig) {
    ::kill(pid_, sig);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
    return status;
  }

  const std::string& log() const { return log_; }

 private:
  pid_t pid_ = -1;
  int stderr_ = -1;
  std::string log_;
};

std::string echo_from(const char* address, std::uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  timeval timeout{3, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_port = htons(port);
  ::inet_pton(AF_INET, address, &sin.sin_addr);
  std::string out;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&sin), sizeof sin) == 0) {
    char buf[512];
    ssize_t n = 0;
    while ((n = ::read(fd, buf, sizeof buf)) > 0) out.append(buf, static_cast<std::size_t>(n));
  } else {
    out = fmt::format("connect: {}", std::strerror(errno));
  }
  ::close(fd);
  return out;
}

}  // namespace

TEST_CASE("detourd run captures outbound connections and kill -9 leaves no rule behind", "[rules]") {
  enter_new_netns();
  sh("ip addr add 192.0.2.9/32 dev lo");
  auto port = free_port();
  detourd_process detourd(port);
  CHECK(sh("nft list tables") == "table inet detour\n");
  CHECK(echo_from("192.0.2.9", 80).find("original dest{ip: 192.0.2.9, port: 80}") != std::string::npos);
  auto status = detourd.signal_and_wait(SIGKILL);
  CHECK(WIFSIGNALED(status));
  CHECK(sh("nft list tables") == "");
  CHECK(echo_from("192.0.2.9", 80) == "connect: Connection refused");
}

TEST_CASE("detourd stopped by SIGTERM removes its rules", "[rules]") {
  enter_new_netns();
  detourd_process detourd(free_port());
  CHECK(sh("nft list tables") == "table inet detour\n");
  auto status = detourd.signal_and_wait(SIGTERM);
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  CHECK(sh("nft list tables") == "");
}

TEST_CASE("detourd rules show, install and remove work from the command line", "[rules]") {
  enter_new_netns();
  auto show = sh(fmt::format("{} rules show", DETOURD_PATH));
  CHECK(show.rfind("table inet detour {\n", 0) == 0);
  CHECK(sh("nft list tables") == "");
  sh(fmt::format("{} rules install", DETOURD_PATH));
  CHECK(sh("nft list tables") == "table inet detour\n");
  sh(fmt::format("{} rules remove", DETOURD_PATH));
  CHECK(sh("nft list tables") == "");
  CHECK(sh(fmt::format("{} rules remove 2>&1", DETOURD_PATH)) == "table inet detour is not installed\n");
}

TEST_CASE("detourd relays a captured connection to its original destination, its own connection not captured",
          "[rules]") {
  enter_new_netns();
  sh("ip addr add 192.0.2.9/32 dev lo");
  // The "remote" server: answers one line on 192.0.2.9:80. detourd's upstream connection to it
  // carries the mark, so the rules leave it alone instead of sending it back into detourd.
  int server = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  ::setsockopt(server, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_port = htons(80);
  ::inet_pton(AF_INET, "192.0.2.9", &sin.sin_addr);
  REQUIRE(::bind(server, reinterpret_cast<sockaddr*>(&sin), sizeof sin) == 0);
  REQUIRE(::listen(server, 16) == 0);
  std::thread answer([server] {
    pollfd p{server, POLLIN, 0};
    if (::poll(&p, 1, 5000) <= 0) return;
    int fd = ::accept4(server, nullptr, nullptr, SOCK_CLOEXEC);
    const char reply[] = "hello from 192.0.2.9\n";
    (void)::write(fd, reply, sizeof reply - 1);
    ::close(fd);
  });
  detourd_process detourd(free_port(), "direct");
  CHECK(echo_from("192.0.2.9", 80) == "hello from 192.0.2.9\n");
  answer.join();
  ::close(server);
  CHECK(detourd.wait_for("-> 192.0.2.9:80]"));
}
