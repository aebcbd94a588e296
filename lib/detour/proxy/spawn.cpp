#include "detour/proxy/spawn.hpp"

#include <spdlog/spdlog.h>
#include <boost/asio/co_spawn.hpp>

#include <exception>

namespace detour::proxy {

void spawn(boost::asio::io_context& context, boost::asio::awaitable<void> coroutine, const char* component) {
  boost::asio::co_spawn(context, std::move(coroutine), [component](const std::exception_ptr& e) {
    if (!e) return;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      spdlog::error("{}: ended by an unexpected exception: {}", component, ex.what());
    }
  });
}

}  // namespace detour::proxy
