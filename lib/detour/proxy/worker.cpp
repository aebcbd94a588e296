#include "detour/proxy/worker.hpp"

#include "detour/proxy/session_record.hpp"
#include "detour/proxy/spawn.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>

namespace detour::proxy {

namespace asio = boost::asio;
using asio::ip::tcp;
using namespace std::chrono_literals;

namespace {

// The idle check runs about ten times per idle_timeout (at most once a second), so a session ends
// between 1.0 and 1.1 idle_timeouts after its last byte.
std::chrono::milliseconds tick_period_for(std::chrono::milliseconds idle) {
  if (idle.count() == 0) return 1s;
  return std::clamp<std::chrono::milliseconds>(idle / 10, 10ms, 1s);
}

}  // namespace

worker::worker(unsigned index, unsigned count, snapshot_ptr snapshot)
    : index_(index),
      count_(count),
      snapshot_(std::move(snapshot)),
      listener_(context_, index),
      tick_period_(tick_period_for(snapshot_->cfg.idle_timeout)) {
  metrics_.reserve(*snapshot_);
}

void worker::adopt(snapshot_ptr next) {
  asio::post(context_, [this, next = std::move(next)]() mutable {
    metrics_.reserve(*next);
    snapshot_ = std::move(next);
  });
}

void worker::run_on(std::function<void()> work) { asio::post(context_, std::move(work)); }

worker::~worker() {
  if (thread_.joinable()) {
    stop(0ms);
    join();
  }
}

void worker::listen(const tcp::endpoint& endpoint, std::optional<traffic_direction> direction) {
  listener_.listen(endpoint, direction);
}

void worker::start() {
  heartbeat_.store(std::chrono::steady_clock::now().time_since_epoch().count(), std::memory_order_relaxed);
  listener_.start(
      // run_session() counts the connection as accepted, once it knows it is not the capture
      // self-test.
      [this](net::socket socket, const tcp::endpoint& peer, std::optional<traffic_direction> direction) {
        spawn(context_, run_session(std::move(socket), peer, direction, *this, snapshot_), "session");
      },
      [this](int error) { metrics_.accept_errors[accept_errno_index(error)].add(); });
  spawn(context_, sweep_loop(), "worker");
  thread_ = std::thread([this] {
    context_.run();
    // The last sessions have ended: their lines go to the writer before the thread does.
    if (access_log_) access_log_->flush();
    finished_.store(true, std::memory_order_release);
  });
}

// Ticks of `idle` at this worker's tick period, rounded up; 0: no idle timeout.
std::uint64_t worker::idle_ticks(std::chrono::milliseconds idle) const {
  return idle.count() == 0 ? 0 : static_cast<std::uint64_t>((idle + tick_period_ - 1ms) / tick_period_);
}

asio::awaitable<void> worker::sweep_loop() {
  while (!stopping_) {
    sweep_timer_.expires_after(tick_period_);
    auto [ec] = co_await sweep_timer_.async_wait(asio::as_tuple(asio::use_awaitable));
    if (ec || stopping_) break;
    ++tick_;
    heartbeat_.store(std::chrono::steady_clock::now().time_since_epoch().count(), std::memory_order_relaxed);
    // A session keeps the idle timeout of the snapshot it started with; most share the current one.
    const snapshot* current = snapshot_.get();
    const auto current_ticks = idle_ticks(current->cfg.idle_timeout);
    for (auto& entry : sessions_) {
      const auto* own = entry.record().snapshot.get();
      const auto limit = own == current ? current_ticks : idle_ticks(own->cfg.idle_timeout);
      auto last = entry.last_active();
      if (limit != 0 && last && tick_ - *last >= limit) entry.end("idle timeout");
    }
  }
}

void worker::end_all(const char* reason) {
  // end() may unlink and destroy the entry (a session that was not waiting), so step first.
  for (auto it = sessions_.begin(); it != sessions_.end();) (it++)->end(reason);
}

void worker::stop(std::chrono::milliseconds drain) {
  asio::post(context_, [this, drain] {
    if (stopping_) return;
    stopping_ = true;
    listener_.close();
    sweep_timer_.cancel();
    if (access_log_) access_log_->cancel_timer();
    if (sessions_.empty()) return;
    drain_timer_.expires_after(drain);
    drain_timer_.async_wait([this](const boost::system::error_code& ec) {
      if (!ec) end_all("shutdown");
    });
  });
}

namespace {

connection_view view_of(const session_entry& entry, std::uint64_t tick, std::chrono::milliseconds tick_period) {
  const auto& r = entry.record();
  connection_view v;
  v.id = r.id;
  v.relaying = entry.relaying();
  v.source = r.source;
  v.local = r.local;
  v.original = r.original;
  v.direction = r.direction;
  v.server_name = r.server_name;
  v.name_from = r.name_from == name_origin::none ? std::string_view() : to_string(r.name_from);
  if (r.decision) {
    const auto& action = r.decision->action;
    v.route = r.snapshot->router.route_name(*r.decision);
    v.action = to_string(action.kind);
    if (action.kind == route_kind::upstream) v.upstream = r.snapshot->cfg.upstreams[action.upstream].name;
  }
  v.server = r.server;
  v.bytes_up = entry.bytes_up();
  v.bytes_down = entry.bytes_down();
  v.age_seconds = std::chrono::duration<double>(session_record::clock::now() - r.start).count();
  const auto last = entry.last_active();
  v.idle_seconds = last ? std::chrono::duration<double>(tick_period * static_cast<std::int64_t>(tick - *last)).count()
                        : v.age_seconds;
  return v;
}

}  // namespace

std::future<std::vector<connection_view>> worker::connections() {
  auto promise = std::make_shared<std::promise<std::vector<connection_view>>>();
  auto future = promise->get_future();
  asio::post(context_, [this, promise] {
    std::vector<connection_view> out;
    for (const auto& entry : sessions_) out.push_back(view_of(entry, tick_, tick_period_));
    promise->set_value(std::move(out));
  });
  return future;
}

std::future<bool> worker::end_session(std::uint64_t id, const char* reason) {
  auto promise = std::make_shared<std::promise<bool>>();
  auto future = promise->get_future();
  asio::post(context_, [this, promise, id, reason] {
    for (auto& entry : sessions_) {
      if (entry.record().id == id) {
        // end() may destroy the entry: nothing of it is touched afterwards.
        entry.end(reason);
        promise->set_value(true);
        return;
      }
    }
    promise->set_value(false);
  });
  return future;
}

void worker::end_now() {
  asio::post(context_, [this] {
    drain_timer_.cancel();
    end_all("shutdown");
  });
}

void worker::remove(session_entry& entry) {
  entry.unlink();
  if (stopping_ && sessions_.empty()) drain_timer_.cancel();
}

void worker::join() {
  if (thread_.joinable()) thread_.join();
}

}  // namespace detour::proxy
