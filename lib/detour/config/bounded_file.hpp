#pragma once
// Reading a whole file that detourd was told to read (the config, a password file) with a bound
// on its size, so a wrong path (a disk image, /dev/zero) is refused instead of read into memory.
#include <cstddef>
#include <filesystem>
#include <string>

namespace detour::config_detail {

// The file's contents; throws config_error "PATH: cannot open: REASON" or
// "PATH: N bytes, over the limit of M" (N is "more than M" for a file whose size stat cannot tell).
std::string read_bounded_file(const std::filesystem::path& path, std::size_t max_bytes);

}  // namespace detour::config_detail
