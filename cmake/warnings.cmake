# Warnings and sanitizers travel as INTERFACE targets so every target opts in the same way.
add_library(detour_warnings INTERFACE)
target_compile_options(detour_warnings INTERFACE
  -Wall -Wextra -Wshadow -Wconversion -Wsign-conversion -Wpedantic
  -Wnon-virtual-dtor -Wold-style-cast -Wcast-align
  -Wdouble-promotion -Wformat=2 -Wimplicit-fallthrough)

add_library(detour_sanitizers INTERFACE)
if(DETOUR_SANITIZE)
  target_compile_options(detour_sanitizers INTERFACE
    -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  target_link_options(detour_sanitizers INTERFACE -fsanitize=address,undefined)
endif()
