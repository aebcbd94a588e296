// `detourd status` and `detourd connections` against the fake backend's admin endpoint, as
// functions and as the real binary, and against nothing at all.
#include "detour/admin/admin_client.hpp"
#include "detour/admin/printers.hpp"
#include "detour/net/sockaddr.hpp"
#include "support/admin_http.hpp"
#include "support/detourd_process.hpp"
#include "support/netns.hpp"

#include <catch2/catch.hpp>

#include <sstream>

using namespace detour::test;
using detour::admin::admin_target;

namespace {

admin_target target_of(const served_admin& admin) { return {admin.server.local_endpoint(), "--admin"}; }

std::string printed_status(const boost::json::object& stats) {
  std::ostringstream out;
  detour::admin::print_status(stats, out);
  return out.str();
}

}  // namespace

TEST_CASE("the status command prints the summary of the endpoint's /stats, or its JSON as it came", "[admin]") {
  enter_new_netns();
  served_admin admin;
  std::ostringstream out;
  std::ostringstream err;
  SECTION("summary") {
    CHECK(detour::admin::status_command(target_of(admin), false, out, err) == 0);
    CHECK(out.str() == printed_status(fake_admin_backend::stats_document()));
  }
  SECTION("json") {
    CHECK(detour::admin::status_command(target_of(admin), true, out, err) == 0);
    CHECK(out.str() == boost::json::serialize(fake_admin_backend::stats_document()) + "\n");
  }
  CHECK(err.str().empty());
}

TEST_CASE("the connections command asks for one route by its name and prints its table", "[admin]") {
  enter_new_netns();
  served_admin admin;
  std::ostringstream out;
  std::ostringstream err;
  CHECK(detour::admin::connections_command(target_of(admin), std::string("route 2"), false, out, err) == 0);
  CHECK(admin.backend.last_route_filter() == std::optional<std::string>("route 2"));
  CHECK(out.str() ==
        "ID  STATE     DIR  SOURCE          ORIGINAL DST  NAME  ROUTE    UPSTREAM  UP     DOWN   AGE   IDLE\n"
        "19  relaying  -    10.0.0.2:40000  10.0.0.3:80   -     route 2  -         190 B  380 B  1.5s  0.2s\n");
  CHECK(err.str().empty());
}

TEST_CASE("the admin commands say why when the endpoint is off or does not answer", "[admin]") {
  enter_new_netns();
  std::ostringstream out;
  std::ostringstream err;
  SECTION("off") {
    CHECK(detour::admin::status_command({std::nullopt, "admin.listen in d.yaml"}, false, out, err) == 1);
    CHECK(err.str() ==
          "detourd status: the admin endpoint is off (admin.listen in d.yaml); set it, or pass --admin "
          "ADDRESS:PORT\n");
  }
  SECTION("nothing listening") {
    auto port = free_port();
    admin_target nobody{boost::asio::ip::tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), port),
                        "admin.listen in d.yaml"};
    CHECK(detour::admin::connections_command(nobody, std::nullopt, false, out, err) == 1);
    CHECK(err.str() == fmt::format("detourd connections: cannot reach the admin endpoint at 127.0.0.1:{}: "
                                   "Connection refused (is detourd running? admin.listen in d.yaml)\n",
                                   port));
  }
  SECTION("an error answer") {
    served_admin admin;
    admin.backend.set_broken(true);
    CHECK(detour::admin::status_command(target_of(admin), false, out, err) == 1);
    CHECK(err.str() == fmt::format("detourd status: the admin endpoint at {} answered 500 Internal Server Error: "
                                   "{{\"error\":\"internal error: the workers did not answer\"}}\n",
                                   detour::net::to_string(admin.server.local_endpoint())));
  }
  CHECK(out.str().empty());
}

TEST_CASE("detourd status reports a detourd that is not running and exits 1", "[admin]") {
  enter_new_netns();
  temp_dir dir;
  auto port = free_port();
  auto file = dir.write("d.yaml", fmt::format("admin:\n  listen: 127.0.0.1:{}\n", port));

  auto run = run_detourd({"status", "-c", file.string()});
  CHECK(run.exit_code == 1);
  CHECK(run.out.empty());
  CHECK(run.err == fmt::format("detourd status: cannot reach the admin endpoint at 127.0.0.1:{}: Connection refused "
                               "(is detourd running? admin.listen in {})\n",
                               port, file.string()));

  auto off = dir.write("off.yaml", "admin:\n  listen: off\n");
  auto off_run = run_detourd({"connections", "-c", off.string()});
  CHECK(off_run.exit_code == 1);
  CHECK(off_run.err == fmt::format("detourd connections: the admin endpoint is off (admin.listen in {}); set it, or "
                                   "pass --admin ADDRESS:PORT\n",
                                   off.string()));
}

TEST_CASE("detourd status and connections print what the admin endpoint at --admin says", "[admin]") {
  enter_new_netns();
  served_admin admin;
  auto where = detour::net::to_string(admin.server.local_endpoint());

  auto status = run_detourd({"status", "--admin", where});
  CHECK(status.exit_code == 0);
  CHECK(status.out == printed_status(fake_admin_backend::stats_document()));

  auto json = run_detourd({"connections", "--admin", where, "--route", "corp", "--json"});
  CHECK(json.exit_code == 0);
  CHECK(admin.backend.last_route_filter() == std::optional<std::string>("corp"));
  auto parsed = boost::json::parse(json.out);
  const auto& listed = parsed.at("connections").as_array();
  REQUIRE(listed.size() == 1);
  CHECK(listed[0].at("id").to_number<int>() == 17);

  auto bad = run_detourd({"status", "--admin", "localhost:1"});
  CHECK(bad.exit_code == 1);
  CHECK(bad.err == "detourd: --admin: expected ADDRESS:PORT (127.0.0.1:15000, [::1]:15000), got \"localhost:1\"\n");
}
