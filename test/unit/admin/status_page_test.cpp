// The embedded status page: whole, self-contained, and carrying the hooks the browser tests and
// the admin server rely on.
#include "detour/admin/status_page.hpp"

#include <catch2/catch.hpp>

#include <string>

using detour::admin::status_page;

TEST_CASE("the embedded status page is one whole HTML document", "[admin]") {
  auto page = status_page();
  CHECK(page.starts_with("<!DOCTYPE html>"));
  CHECK(page.ends_with("</html>\n"));
  CHECK(page.find("<script>") != std::string_view::npos);
}

TEST_CASE("the embedded status page loads nothing from anywhere else", "[admin]") {
  auto page = status_page();
  // An operator may open it on a host with no route out; any URL would be an external asset.
  CHECK(page.find("http://") == std::string_view::npos);
  CHECK(page.find("https://") == std::string_view::npos);
  for (auto tag : {"<link", "<img", "<iframe", "@import", "src="}) {
    INFO(tag);
    CHECK(page.find(tag) == std::string_view::npos);
  }
}

TEST_CASE("the embedded status page inserts data as text, never as markup", "[admin]") {
  auto page = status_page();
  for (auto sink : {"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("}) {
    INFO(sink);
    CHECK(page.find(sink) == std::string_view::npos);
  }
  CHECK(page.find("textContent") != std::string_view::npos);
}

TEST_CASE("the embedded status page has the hooks its tests read", "[admin]") {
  auto page = status_page();
  for (auto hook : {R"(id="header")", R"(id="errors")", R"(id="routes")", R"(id="connections")", R"(id="results")",
                    R"(id="summary")", R"(id="chart-total")", R"(id="route-filter")", R"(id="pause")",
                    R"(data-field="version")", R"("original_dst")", R"("rate_up")", R"("error")"}) {
    INFO(hook);
    CHECK(page.find(hook) != std::string_view::npos);
  }
  // Polls the endpoints the admin server serves on the same origin.
  CHECK(page.find(R"("/stats")") != std::string_view::npos);
  CHECK(page.find(R"("/connections")") != std::string_view::npos);
}
