#pragma once
#include <cstddef>
#include <string>

namespace detour::upstream {

// What a reply parser says about the bytes received so far. Parsers are pure functions of the
// whole buffer received since the request was sent: the caller appends what it reads and asks again
// until done or error. Each parser needs at most a fixed number of bytes and says error beyond it,
// so a hostile server can neither grow our buffer nor keep us waiting for a reply that never ends.
struct parse_result {
  enum class state { need_more, done, error };

  state status = state::need_more;
  // done: bytes the reply took; anything after them already belongs to the relayed stream.
  std::size_t consumed = 0;
  // error: for the access log, e.g. "socks5: connection refused by destination (rep=5)".
  std::string error;

  static parse_result need_more() { return {}; }
  static parse_result done(std::size_t consumed) { return {state::done, consumed, {}}; }
  static parse_result failed(std::string why) { return {state::error, 0, std::move(why)}; }

  bool is_done() const { return status == state::done; }
  bool is_error() const { return status == state::error; }
};

}  // namespace detour::upstream
