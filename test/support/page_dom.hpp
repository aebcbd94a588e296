#pragma once
// What the browser tests read from a page: parts of the DOM that browse() dumped, the texts of
// the elements a page marks with data-field, and whether a screenshot is a real picture.
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace detour::test {

// The part of `dom` from the element with id `id` to the end of its table (or section). Throws
// if there is no such element.
std::string part(const std::string& dom, std::string_view id);

// The text of every element in `html` whose data-field is `field`, in document order.
std::vector<std::string> fields(const std::string& html, std::string_view field);

using texts = std::vector<std::string>;

// True if `file` starts with the PNG signature and is large enough to hold more than a blank
// window.
bool is_png(const std::filesystem::path& file);

}  // namespace detour::test
