#include "support/admin_http.hpp"

#include <boost/asio/ip/address.hpp>

namespace detour::test {

served_admin::served_admin()
    : server(boost::asio::ip::tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), 0), backend, test_status_page) {
  server.start();
}

admin::response served_admin::request(boost::beast::http::verb method, std::string_view target) const {
  return admin::http_request(server.local_endpoint(), method, target);
}

}  // namespace detour::test
