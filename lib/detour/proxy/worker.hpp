#pragma once
#include "detour/config/config.hpp"
#include "detour/proxy/stats.hpp"
#include "detour/relay/pipe_pool.hpp"
#include "detour/route/router.hpp"
#include "detour/net/socket.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/intrusive/list.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace detour::proxy {

// A session as the worker sees it: enough to find idle ones and to end them all at shutdown. It
// unlinks itself when destroyed.
class session_entry
    : public boost::intrusive::list_base_hook<boost::intrusive::link_mode<boost::intrusive::auto_unlink>> {
 public:
  virtual ~session_entry() = default;
  // Ends the session from outside (idle timeout, shutdown); `reason` is a string literal.
  virtual void end(const char* reason) = 0;
  // The worker tick of the last byte moved, or nullopt while the idle timeout does not apply.
  virtual std::optional<std::uint64_t> last_active() const = 0;
};

// One thread, one io_context, its own listening sockets: a connection lives on one worker for
// life, so nothing on the data path is shared between threads.
class worker {
 public:
  worker(unsigned index, std::shared_ptr<const config> cfg);
  ~worker();
  worker(const worker&) = delete;
  worker& operator=(const worker&) = delete;

  // Binds this worker's listener on `endpoint` (call before start()).
  void listen(const boost::asio::ip::tcp::endpoint& endpoint);
  void start();
  // Thread-safe: stop accepting, let sessions finish for up to `drain`, then end the rest.
  void stop(std::chrono::milliseconds drain);
  void join();

  unsigned index() const { return index_; }
  boost::asio::io_context& context() { return context_; }
  relay::pipe_pool& pipes() { return pipes_; }
  proxy::stats& counters() { return stats_; }
  const proxy::stats& counters() const { return stats_; }
  const std::uint64_t* clock() const { return &tick_; }
  std::uint16_t listen_port() const { return listen_port_; }
  // The routes of config_, compiled once; a config reload must replace both together.
  const route::router& router() const { return router_; }

  void add(session_entry& entry) { sessions_.push_back(entry); }
  // Called by a session as it ends; lets a drain finish as soon as the last session is gone.
  void remove(session_entry& entry);

 private:
  boost::asio::awaitable<void> accept_loop(net::acceptor& acceptor);
  boost::asio::awaitable<void> sweep_loop();
  void end_all(const char* reason);

  unsigned index_;
  std::shared_ptr<const config> config_;
  route::router router_;
  boost::asio::io_context context_{1};
  std::vector<std::unique_ptr<net::acceptor>> acceptors_;
  relay::pipe_pool pipes_;
  proxy::stats stats_;
  boost::intrusive::list<session_entry, boost::intrusive::constant_time_size<false>> sessions_;
  boost::asio::steady_timer sweep_timer_{context_};
  boost::asio::steady_timer drain_timer_{context_};
  std::chrono::milliseconds tick_period_;
  std::uint64_t tick_ = 0;
  bool stopping_ = false;
  std::uint16_t listen_port_ = 0;
  std::thread thread_;
};

}  // namespace detour::proxy
