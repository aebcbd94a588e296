#include "detour/proxy/worker.hpp"

#include "detour/net/sockaddr.hpp"
#include "detour/proxy/listener.hpp"
#include "detour/proxy/session.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <random>

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

bool out_of_resources(const boost::system::error_code& ec) {
  return ec == asio::error::no_descriptors || ec.value() == ENFILE || ec == asio::error::no_buffer_space ||
         ec == asio::error::no_memory;
}

void log_session_exception(std::exception_ptr e) {
  if (!e) return;
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    spdlog::error("session: ended by an unexpected exception: {}", ex.what());
  }
}

}  // namespace

worker::worker(unsigned index, std::shared_ptr<const config> cfg)
    : index_(index),
      config_(std::move(cfg)),
      router_(*config_),
      tick_period_(tick_period_for(config_->idle_timeout)) {}

worker::~worker() {
  if (thread_.joinable()) {
    stop(0ms);
    join();
  }
}

void worker::listen(const tcp::endpoint& endpoint) {
  acceptors_.push_back(std::make_unique<net::acceptor>(make_listener(context_, endpoint)));
  listen_port_ = endpoint.port();
}

void worker::start() {
  for (auto& acceptor : acceptors_) {
    asio::co_spawn(context_, accept_loop(*acceptor), [](std::exception_ptr e) { log_session_exception(e); });
  }
  asio::co_spawn(context_, sweep_loop(), [](std::exception_ptr e) { log_session_exception(e); });
  thread_ = std::thread([this] { context_.run(); });
}

asio::awaitable<void> worker::accept_loop(net::acceptor& acceptor) {
  std::minstd_rand jitter(index_ + 1);
  auto last_warning = std::chrono::steady_clock::time_point{};
  asio::steady_timer backoff(context_);
  while (!stopping_) {
    auto [ec, socket] = co_await acceptor.async_accept(asio::as_tuple(asio::use_awaitable));
    if (!ec) {
      asio::co_spawn(context_, run_session(std::move(socket), *this, config_), log_session_exception);
      continue;
    }
    if (ec == asio::error::operation_aborted || stopping_) break;
    if (out_of_resources(ec)) {
      // Out of descriptors: the pending connection stays in the backlog. Retrying at once would
      // spin; back off with jitter so the workers do not retry in lockstep.
      auto now = std::chrono::steady_clock::now();
      if (now - last_warning > 1s) {
        spdlog::warn("listener: accept: {}; backing off (raise LimitNOFILE / ulimit -n)", ec.message());
        last_warning = now;
      }
      backoff.expires_after(std::chrono::milliseconds(50 + jitter() % 50));
      co_await backoff.async_wait(asio::as_tuple(asio::use_awaitable));
      continue;
    }
    // ECONNABORTED and the like concern one connection only.
    spdlog::debug("listener: accept: {}", ec.message());
  }
}

asio::awaitable<void> worker::sweep_loop() {
  const auto idle = config_->idle_timeout;
  const auto idle_ticks = static_cast<std::uint64_t>((idle + tick_period_ - 1ms) / tick_period_);
  while (!stopping_) {
    sweep_timer_.expires_after(tick_period_);
    auto [ec] = co_await sweep_timer_.async_wait(asio::as_tuple(asio::use_awaitable));
    if (ec || stopping_) break;
    ++tick_;
    if (idle.count() == 0) continue;
    for (auto& entry : sessions_) {
      auto last = entry.last_active();
      if (last && tick_ - *last >= idle_ticks) entry.end("idle timeout");
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
    boost::system::error_code ignored;
    for (auto& acceptor : acceptors_) acceptor->close(ignored);
    sweep_timer_.cancel();
    if (sessions_.empty()) return;
    drain_timer_.expires_after(drain);
    drain_timer_.async_wait([this](const boost::system::error_code& ec) {
      if (!ec) end_all("shutdown");
    });
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
