#include "support/held_socks5_server.hpp"

namespace detour::test {

held_socks5_server::held_socks5_server(const endpoint& listen_at)
    : tcp_server(listen_at, [this](int fd) { return serve(fd); }) {}

held_socks5_server::~held_socks5_server() {
  // A test that never let it answer must not keep its connection thread waiting.
  if (!answered_) answer();
}

bool held_socks5_server::wait_for_greeting() {
  return greeted_.get_future().wait_for(default_timeout) == std::future_status::ready;
}

void held_socks5_server::answer() {
  answered_ = true;
  go_.set_value();
}

received_digest held_socks5_server::serve(int fd) {
  if (read_exactly(fd, 3).bytes.size() != 3) return {};
  greeted_.set_value();
  if (go_.get_future().wait_for(default_timeout) != std::future_status::ready) return {};
  // Method reply (no authentication), CONNECT reply (succeeded, bound 0.0.0.0:0), early bytes.
  static constexpr char replies[] =
      "\x05\x00\x05\x00\x00\x01\x00\x00\x00\x00\x00\x00"
      "early";
  send_all(fd, std::string_view(replies, sizeof replies - 1));
  return hash_until_eof(fd);
}

}  // namespace detour::test
