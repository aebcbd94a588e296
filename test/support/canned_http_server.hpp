#pragma once
// An HTTP server with answers fixed by the test, for pages and clients tested before (or apart
// from) the daemon's own admin server: the test decides every value the client will see.
#include "support/tcp.hpp"

#include <cstddef>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace detour::test {

struct canned_response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  // Close the connection without a word, as a server that went away: the browser's fetch fails
  // with a network error, not an HTTP status.
  bool hang_up = false;
};

inline canned_response dropped_connection() {
  canned_response r;
  r.hang_up = true;
  return r;
}

// One HTTP/1.1 response per connection (Connection: close), each connection on a thread of its
// own (tcp_server), so a browser's parallel and speculative connections never wait on each other.
class canned_http_server {
 public:
  explicit canned_http_server(const endpoint& listen_at);

  // GET `target` ("/stats", or with its query "/connections?route=corp", which is matched before
  // the bare path) answers with `responses` in turn, and with the last one from then on. Any
  // other target gets 404.
  void answer(std::string target, std::vector<canned_response> responses);

  // "http://127.0.0.1:PORT" followed by `path`.
  std::string url(std::string_view path = "/") const;
  // The targets requested so far, in the order they arrived.
  std::vector<std::string> requests() const;
  std::size_t request_count(std::string_view target) const;

 private:
  struct script {
    std::vector<canned_response> responses;
    std::size_t next = 0;
  };
  canned_response respond_to(const std::string& target);
  received_digest serve(int fd);

  mutable std::mutex mutex_;
  std::map<std::string, script, std::less<>> scripts_;
  std::vector<std::string> requests_;
  // Last: its threads, which read the scripts, are joined before the scripts go.
  tcp_server server_;
};

}  // namespace detour::test
