#pragma once
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>

namespace detour::proxy {

// co_spawn with a completion handler that logs an exception escaping the coroutine, naming
// `component` ("session", "listener"): no coroutine of ours is detached bare, so no failure
// vanishes. `component` must be a string literal.
void spawn(boost::asio::io_context& context, boost::asio::awaitable<void> coroutine, const char* component);

}  // namespace detour::proxy
