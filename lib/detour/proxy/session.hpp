#pragma once
#include "detour/net/socket.hpp"
#include "detour/proxy/snapshot.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/intrusive/list_hook.hpp>

#include <cstdint>
#include <optional>

namespace detour::proxy {

class worker;
struct session_record;

// A live session as its worker sees it: enough to find idle ones and to end them all at shutdown.
// A session is in its worker's list while it connects and while it relays; it unlinks itself when
// destroyed.
class session_entry
    : public boost::intrusive::list_base_hook<boost::intrusive::link_mode<boost::intrusive::auto_unlink>> {
 public:
  virtual ~session_entry() = default;
  // Ends the session from outside (idle timeout, shutdown): a relay is aborted, a connect in flight
  // is cancelled. `reason` is a string literal; the first one given is the one logged.
  virtual void end(const char* reason) = 0;
  // The worker tick of the last byte moved, or nullopt while the idle timeout does not apply.
  virtual std::optional<std::uint64_t> last_active() const = 0;
  // For GET /connections: the record so far, whether bytes are being relayed, and how many.
  virtual const session_record& record() const = 0;
  virtual bool relaying() const = 0;
  virtual std::uint64_t bytes_up() const = 0;
  virtual std::uint64_t bytes_down() const = 0;
};

// One accepted connection, start to end. This coroutine is the setup: recover the original
// destination, refuse what was not redirected and loops, route, then echo, reject, or connect
// (directly or through an upstream proxy) and hand both sockets to a relayed_session. Every exit
// ends in finish(): exactly one log line and one set of counter updates. The session keeps
// `snapshot`, the config it was accepted under, whatever reloads happen meanwhile.
// `peer` is the client's address as accept4() returned it. `direction` is the listener's (nullopt where one port serves
// both directions: the session then tells them apart by the address the connection arrived on).
boost::asio::awaitable<void> run_session(net::socket client, boost::asio::ip::tcp::endpoint peer,
                                         std::optional<traffic_direction> direction, worker& owner,
                                         snapshot_ptr snapshot);

}  // namespace detour::proxy
