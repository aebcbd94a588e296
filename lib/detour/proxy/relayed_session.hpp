#pragma once
#include "detour/net/socket.hpp"
#include "detour/proxy/session.hpp"
#include "detour/proxy/session_record.hpp"
#include "detour/relay/splice_relay.hpp"

namespace detour::proxy {

class worker;

// A connection while it relays: the splice relay, both sockets (inside it) and the record. It owns
// itself: the setup coroutine creates it and is gone, and it deletes itself when the relay
// completes, after finish(). An idle relayed connection costs this object and its sockets' kernel
// state, nothing more (docs/BENCHMARKS.md: about 1.2 KiB).
class relayed_session final : public session_entry {
 public:
  // Registers with `owner` and starts relaying.
  static void start(worker& owner, net::socket client, net::socket upstream, session_record record);

  void end(const char* reason) override;
  std::optional<std::uint64_t> last_active() const override { return relay_.last_active(); }
  const session_record& record() const override { return record_; }
  bool relaying() const override { return true; }
  std::uint64_t bytes_up() const override { return relay_.result().up.bytes; }
  std::uint64_t bytes_down() const override { return relay_.result().down.bytes; }

 private:
  relayed_session(worker& owner, net::socket client, net::socket upstream, session_record record);
  ~relayed_session() override = default;
  relayed_session(const relayed_session&) = delete;
  relayed_session& operator=(const relayed_session&) = delete;

  void on_relay_finished();

  worker& owner_;
  session_record record_;
  relay::splice_relay relay_;
  const char* end_reason_ = nullptr;  // set by end(): idle timeout, shutdown
};

}  // namespace detour::proxy
