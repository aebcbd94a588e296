#pragma once
#include "detour/proxy/session_record.hpp"

#include <chrono>
#include <string>

namespace detour::proxy {

// Appends one access log line for a connection that ended with `how` at `end`: a JSON object and
// a newline, with the fields README.md documents ("Access log"), in that order:
//   {"time":"2026-12-02T01:02:03.456Z","id":7,"source":"10.0.0.5:51234","local":"127.0.0.1:15001",
//    "original_dst":"93.184.216.34:443","direction":"outbound","server_name":"www.example.com",
//    "name_from":"sni","route":"corp","action":"upstream",
//    "upstream":{"name":"corp","server":"10.1.0.5:1080"},"result":"relayed","reason":"eof",
//    "bytes_up":517,"bytes_down":4087,"duration_ms":120.5,"connect_ms":3.2}
// Fields that do not apply are null, never left out, so every line has the same shape.
void append_access_log_entry(std::string& out, const session_record& record, outcome how,
                             std::chrono::system_clock::time_point end);

}  // namespace detour::proxy
