#pragma once
#include "detour/admin/admin_backend.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <chrono>
#include <cstddef>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_set>

namespace detour::admin {

// What one admin client may cost. No endpoint takes a body, so a small one is plenty; the
// deadline covers a whole request's arrival, so a client sending a byte a second cannot hold a
// slot, and the cap bounds the slots.
struct server_limits {
  std::size_t header_bytes = std::size_t{8} * 1024;
  std::size_t body_bytes = std::size_t{4} * 1024;
  std::chrono::milliseconds request_timeout{std::chrono::seconds(5)};
  std::size_t max_connections = 64;
};

// The admin HTTP endpoint: its own thread and io_context, so neither a slow client nor a slow
// scrape ever runs on a worker; the workers are reached only through `backend`.
class admin_server {
 public:
  // Binds and listens at once, so a port in use fails before anything else starts; throws
  // admin_error ("admin.listen 127.0.0.1:15000: bind: Address already in use"). `page` is served
  // at GET / and copied.
  admin_server(const boost::asio::ip::tcp::endpoint& listen, backend& b, std::string_view page,
               server_limits limits = {});
  admin_server(const admin_server&) = delete;
  admin_server& operator=(const admin_server&) = delete;
  ~admin_server();

  // Starts the thread that accepts and serves.
  void start();
  // Closes the listener and every admin connection, and joins the thread; from any thread, more
  // than once.
  void stop();
  // The bound address: with port 0, the port the kernel chose.
  boost::asio::ip::tcp::endpoint local_endpoint() const { return local_; }

 private:
  class slot;
  boost::asio::awaitable<void> accept_loop();
  boost::asio::awaitable<void> serve(boost::asio::ip::tcp::socket socket, slot s);
  void close_all();

  boost::asio::io_context context_{1};
  boost::asio::ip::tcp::acceptor acceptor_;
  boost::asio::ip::tcp::endpoint local_;
  backend& backend_;
  std::string page_;
  server_limits limits_;
  // Admin thread only.
  std::size_t connections_ = 0;
  std::unordered_set<boost::asio::ip::tcp::socket*> sockets_;
  bool closing_ = false;

  std::mutex lifecycle_;
  bool started_ = false;
  bool stopped_ = false;
  std::thread thread_;
};

}  // namespace detour::admin
