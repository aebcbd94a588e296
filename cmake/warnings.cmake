# Warnings and sanitizers travel as INTERFACE targets so every target opts in the same way.
add_library(detour_warnings INTERFACE)
target_compile_options(detour_warnings INTERFACE
  -Wall -Wextra -Wshadow -Wconversion -Wsign-conversion -Wpedantic
  -Wnon-virtual-dtor -Wold-style-cast -Wcast-align
  -Wdouble-promotion -Wformat=2 -Wimplicit-fallthrough
  # GCC inlines Asio's recycling frame allocator into coroutines and then fails to pair its
  # operator new with its sized operator delete: a false positive (GCC PR middle-end/109224) that
  # appears in whichever coroutine the inliner happens to pick.
  $<$<CXX_COMPILER_ID:GNU>:-Wno-mismatched-new-delete>)

add_library(detour_sanitizers INTERFACE)
if(DETOUR_SANITIZE)
  target_compile_options(detour_sanitizers INTERFACE
    -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
    # Not the vptr check: its runtime probes an object's memory through a pipe(2), and the tests that
    # exhaust descriptors and pipes on purpose make that probe fail, which it reports as an invalid
    # vptr of a valid object and aborts.
    -fno-sanitize=vptr
    # After the build type's -O2 -g, so these win: the sanitizer build is compiled for finding bugs,
    # not speed. -O1 -g1 halves its compile time (an Asio-heavy file: 39 s of CPU at -O2 -g, 19 s at
    # -O1 -g1) and line tables are all a sanitizer report's stack needs.
    -O1 -g1)
  target_link_options(detour_sanitizers INTERFACE -fsanitize=address,undefined)
endif()
