#include "detour/proxy/relayed_session.hpp"

#include "detour/proxy/worker.hpp"

namespace detour::proxy {

namespace {

// Why a relay ended by itself, and which side ended it, from how its two directions ended. `up`
// reads the client and writes upstream; `down` the reverse.
void explain(const relay::relay_result& r, session_record& record) {
  if (!r.up.error && !r.down.error) {
    record.reason = "eof";
    record.closed_by = r.up_ended_first ? closer::client : closer::upstream;
    return;
  }
  const auto& failed = r.up.error ? r.up : r.down;
  const bool client_side = (&failed == &r.up) != failed.error_on_write;
  const bool reset = failed.error == std::errc::connection_reset || failed.error == std::errc::broken_pipe;
  record.reason =
      client_side ? (reset ? "client reset" : "client error") : (reset ? "upstream reset" : "upstream error");
  record.closed_by = client_side ? closer::client : closer::upstream;
}

}  // namespace

void relayed_session::start(worker& owner, net::socket client, net::socket upstream, session_record record) {
  auto* session = new relayed_session(owner, std::move(client), std::move(upstream), std::move(record));
  session->relay_.start();
}

relayed_session::relayed_session(worker& owner, net::socket client, net::socket upstream, session_record record)
    : owner_(owner),
      record_(std::move(record)),
      relay_(std::move(client), std::move(upstream), owner.pools(), owner.tick(),
             owner.metrics().route(*record_.snapshot, *record_.decision).bytes, [this] { on_relay_finished(); }) {
  owner_.add(*this);
}

void relayed_session::end(const char* reason) {
  if (end_reason_ == nullptr) end_reason_ = reason;
  relay_.abort();
}

void relayed_session::on_relay_finished() {
  const auto r = relay_.result();
  if (r.up.eof && r.down.eof) {
    boost::system::error_code ignored;
    relay_.client().close(ignored);
    relay_.upstream().close(ignored);
  } else {
    // Whichever side failed is gone already; the survivor learns of it by a reset, as it would
    // have without a proxy in between.
    net::reset(relay_.client());
    net::reset(relay_.upstream());
  }
  record_.bytes_up = r.up.bytes;
  record_.bytes_down = r.down.bytes;
  if (end_reason_ != nullptr) {
    record_.reason = end_reason_;
    record_.closed_by = closer::proxy;
  } else {
    explain(r, record_);
  }
  finish(record_, outcome::relayed, owner_);
  owner_.remove(*this);
  delete this;
}

}  // namespace detour::proxy
