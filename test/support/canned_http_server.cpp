#include "support/canned_http_server.hpp"

#include "support/deadline.hpp"

#include <fmt/format.h>

#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <optional>

namespace detour::test {

namespace {

// A request head is a few hundred bytes; a client that sends more, or nothing, is not one of ours.
constexpr std::size_t max_head = 64 * 1024;
constexpr auto head_timeout = 10s;

// The request target of the head read from `fd`; nullopt if the client closed, stalled or sent
// something else than a GET head.
std::optional<std::string> read_get_target(int fd) {
  auto deadline = test_clock::now() + head_timeout;
  std::string head;
  while (head.find("\r\n\r\n") == std::string::npos) {
    if (head.size() > max_head) return std::nullopt;
    pollfd p{fd, POLLIN, 0};
    int ready = ::poll(&p, 1, remaining_ms(deadline));
    if (ready == 0) return std::nullopt;
    if (ready < 0) {
      if (errno == EINTR) continue;
      return std::nullopt;
    }
    std::array<char, 4096> buffer{};
    ssize_t n = ::recv(fd, buffer.data(), buffer.size(), 0);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
    if (n <= 0) return std::nullopt;
    head.append(buffer.data(), static_cast<std::size_t>(n));
  }
  if (!head.starts_with("GET ")) return std::nullopt;
  auto end = head.find(' ', 4);
  if (end == std::string::npos) return std::nullopt;
  return head.substr(4, end - 4);
}

}  // namespace

canned_http_server::canned_http_server(const endpoint& listen_at)
    : server_(listen_at, [this](int fd) { return serve(fd); }) {}

void canned_http_server::answer(std::string target, std::vector<canned_response> responses) {
  std::lock_guard lock(mutex_);
  scripts_[std::move(target)] = script{std::move(responses), 0};
}

std::string canned_http_server::url(std::string_view path) const {
  return fmt::format("http://{}:{}{}", server_.local_endpoint().address().to_string(), server_.port(), path);
}

std::vector<std::string> canned_http_server::requests() const {
  std::lock_guard lock(mutex_);
  return requests_;
}

std::size_t canned_http_server::request_count(std::string_view target) const {
  std::lock_guard lock(mutex_);
  return static_cast<std::size_t>(std::count(requests_.begin(), requests_.end(), target));
}

canned_response canned_http_server::respond_to(const std::string& target) {
  std::lock_guard lock(mutex_);
  requests_.push_back(target);
  auto found = scripts_.find(target);
  if (found == scripts_.end()) found = scripts_.find(std::string_view(target).substr(0, target.find('?')));
  if (found == scripts_.end() || found->second.responses.empty()) {
    return {404, "text/plain", "no canned answer for " + target + "\n", false};
  }
  auto& s = found->second;
  auto response = s.responses[std::min(s.next, s.responses.size() - 1)];
  ++s.next;
  return response;
}

received_digest canned_http_server::serve(int fd) {
  received_digest report;
  auto target = read_get_target(fd);
  if (!target) return report;
  auto response = respond_to(*target);
  report.end = stream_end::eof;
  if (response.hang_up) return report;
  // Clients read the status code only; the reason phrase is decoration.
  send_all(fd, fmt::format("HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nCache-Control: no-store\r\n"
                           "Connection: close\r\n\r\n{}",
                           response.status, response.status < 400 ? "OK" : "Error", response.content_type,
                           response.body.size(), response.body));
  return report;
}

}  // namespace detour::test
