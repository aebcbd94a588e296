#pragma once
#include "detour/proxy/access_log_batch.hpp"
#include "detour/proxy/admission.hpp"
#include "detour/proxy/connection_view.hpp"
#include "detour/proxy/listener.hpp"
#include "detour/proxy/session.hpp"
#include "detour/proxy/snapshot.hpp"
#include "detour/proxy/stats.hpp"
#include "detour/proxy/worker_metrics.hpp"
#include "detour/relay/relay_pools.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/intrusive/list.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <future>
#include <optional>
#include <thread>
#include <vector>

namespace detour::proxy {

// One thread, one io_context, its own listening sockets: a connection lives on one worker for
// life, so nothing on the data path is shared between threads. The worker holds the current config
// snapshot, its pipe and copy buffer pools and counters, and the list of live sessions, which it sweeps for idle
// ones and ends at shutdown.
class worker {
 public:
  // Worker `index` of `count`: session ids are unique across all of them.
  worker(unsigned index, unsigned count, snapshot_ptr snapshot);
  ~worker();
  worker(const worker&) = delete;
  worker& operator=(const worker&) = delete;

  // Binds this worker's listener on `endpoint` (call before start()); throws listen_error.
  // `direction`: what connections on it are, or nullopt when the port serves both (listener::listen).
  void listen(const boost::asio::ip::tcp::endpoint& endpoint, std::optional<traffic_direction> direction = {});
  // Sessions that end on this worker write their access log lines to `to` (call before start()).
  void log_access_to(access_log::writer& to) { access_log_.emplace(context_, to); }
  // Connections are admitted against the process-wide counts in `shared` (call before start());
  // without it, this worker counts alone.
  void admit_with(proxy::admission& shared) { admission_ = &shared; }
  void start();
  // Thread-safe: connections accepted from now on get `next`; running ones keep theirs.
  void adopt(snapshot_ptr next);
  // Thread-safe: runs `work` on the worker's thread.
  void run_on(std::function<void()> work);
  // Thread-safe: when the worker's event loop last ran its sweep (steady_clock ticks since its
  // epoch; 0 before the first). The watchdog reads it: a loop that stops ticking is hung.
  std::int64_t heartbeat() const { return heartbeat_.load(std::memory_order_relaxed); }
  std::chrono::milliseconds tick_period() const { return tick_period_; }
  // Thread-safe: stop accepting, let sessions finish for up to `drain`, then end the rest (a
  // relay is reset, a connect in flight is cancelled).
  void stop(std::chrono::milliseconds drain);
  // Thread-safe, after stop(): ends every session now instead of at the end of the drain.
  void end_now();
  // Thread-safe: the thread has run out of work (every session ended) and is about to exit.
  bool finished() const { return finished_.load(std::memory_order_acquire); }
  void join();

  relay::relay_pools& pools() { return pools_; }
  const relay::relay_pools& pools() const { return pools_; }
  proxy::stats& stats() { return stats_; }
  const proxy::stats& stats() const { return stats_; }
  worker_metrics& metrics() { return metrics_; }
  proxy::admission& admission() { return *admission_; }
  const worker_metrics& metrics() const { return metrics_; }
  // This worker's access log lines; nullptr when the access log is off.
  access_log_batch* access_log() { return access_log_ ? &*access_log_ : nullptr; }
  // Access log lines this worker dropped because the writer could not keep up.
  std::uint64_t access_log_dropped() const { return access_log_ ? access_log_->dropped().get() : 0; }
  // The idle clock: advanced by the sweep, read by relays when bytes move.
  const std::uint64_t& tick() const { return tick_; }
  std::uint16_t listen_port() const { return listener_.port(); }
  bool serves_port(std::uint16_t port) const { return listener_.serves_port(port); }
  // A session id no other worker hands out: index, index + count, index + 2 count...
  std::uint64_t next_id() { return index_ + count_ * ++sequence_; }

  // Thread-safe: copies of the live sessions, made on the worker's thread. The future is never
  // ready if the worker has stopped: wait for it with a timeout.
  std::future<std::vector<connection_view>> connections();
  // Thread-safe: ends the session `id` with `reason` (a string literal); true if it was live here.
  std::future<bool> end_session(std::uint64_t id, const char* reason);
  // The worker a session id belongs to (see next_id()).
  static unsigned owner_of(std::uint64_t id, unsigned count) { return static_cast<unsigned>(id % count); }

  void add(session_entry& entry) { sessions_.push_back(entry); }
  // Called by a session as it ends; lets a drain finish as soon as the last session is gone.
  void remove(session_entry& entry);

 private:
  boost::asio::awaitable<void> sweep_loop();
  std::uint64_t idle_ticks(std::chrono::milliseconds idle) const;
  void end_all(const char* reason);

  unsigned index_;
  unsigned count_;
  std::uint64_t sequence_ = 0;
  snapshot_ptr snapshot_;
  // Before the io_context: sessions it destroys give their tickets back here.
  proxy::admission own_admission_;
  proxy::admission* admission_ = &own_admission_;
  // One thread runs it, and every other thread reaches it only by posting (adopt, run_on, stop...):
  // the scheduler keeps its lock for those posts, and the reactor's per-socket locks, which only
  // guard against a socket used from two threads, are left out.
  boost::asio::io_context context_{BOOST_ASIO_CONCURRENCY_HINT_UNSAFE_IO};
  listener listener_;
  relay::relay_pools pools_;
  proxy::stats stats_;
  worker_metrics metrics_;
  boost::intrusive::list<session_entry, boost::intrusive::constant_time_size<false>> sessions_;
  boost::asio::steady_timer sweep_timer_{context_};
  boost::asio::steady_timer drain_timer_{context_};
  std::optional<access_log_batch> access_log_;
  std::chrono::milliseconds tick_period_;
  std::uint64_t tick_ = 0;
  std::atomic<std::int64_t> heartbeat_{0};
  std::atomic<bool> finished_{false};
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace detour::proxy
