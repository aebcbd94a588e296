#pragma once
#include <boost/asio/ip/tcp.hpp>

#include <optional>
#include <string>
#include <system_error>

namespace detour::echo {

// The line the seed article's test server answers with, byte for byte:
//   source{ip: A, port: P};  dest{ip: A, port: P}; original dest{ip: A, port: P}\n
// and, when the original destination could not be read,
//   ... original dest{strerror: <strerror(errno)>, errno: <errno>}\n
// (note the two spaces after the first semicolon: the seed's format string has them).
std::string echo_line(const boost::asio::ip::tcp::endpoint& source, const boost::asio::ip::tcp::endpoint& dest,
                      const std::optional<boost::asio::ip::tcp::endpoint>& original, std::error_code original_error);

}  // namespace detour::echo
