#pragma once
#include "support/tcp.hpp"

#include <future>

namespace detour::test {

// A SOCKS5 proxy that answers only when told to, with its replies and some early bytes in one
// write: so a test can make the client go away between detourd's greeting and the proxy's answer,
// or stop detourd while it waits for the answer. It serves one connection.
class held_socks5_server : public tcp_server {
 public:
  explicit held_socks5_server(const endpoint& listen_at);
  ~held_socks5_server();

  // Waits until detourd has sent its greeting.
  bool wait_for_greeting();
  // Lets the proxy answer: method "no authentication", CONNECT succeeded, then "early".
  void answer();

 private:
  received_digest serve(int fd);

  std::promise<void> greeted_;
  std::promise<void> go_;
  bool answered_ = false;
};

}  // namespace detour::test
