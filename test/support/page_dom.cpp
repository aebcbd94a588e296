#include "support/page_dom.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <fstream>
#include <regex>
#include <stdexcept>

namespace detour::test {

std::string part(const std::string& dom, std::string_view id) {
  auto start = dom.find(fmt::format("id=\"{}\"", id));
  if (start == std::string::npos) throw std::runtime_error(fmt::format("no element with id \"{}\" in the page", id));
  auto end = dom.find("</table>", start);
  auto section_end = dom.find("</section>", start);
  return dom.substr(start, std::min(end, section_end) - start);
}

std::vector<std::string> fields(const std::string& html, std::string_view field) {
  std::regex cell(fmt::format("data-field=\"{}\"[^>]*>([^<]*)<", field));
  std::vector<std::string> out;
  for (auto it = std::sregex_iterator(html.begin(), html.end(), cell); it != std::sregex_iterator(); ++it) {
    out.push_back((*it)[1]);
  }
  return out;
}

bool is_png(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  std::string magic(8, '\0');
  in.read(magic.data(), static_cast<std::streamsize>(magic.size()));
  return in && magic == "\x89PNG\r\n\x1a\n" && std::filesystem::file_size(file) > 10000;
}

}  // namespace detour::test
