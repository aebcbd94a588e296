#!/bin/sh
# Builds the libFuzzer targets with clang in build-fuzz/ and runs each for a bounded time.
#   scripts/fuzz.sh [SECONDS_PER_TARGET]   (default 30)
# Exit status is non-zero when a target finds a crash; the reproducer is left in build-fuzz/.
set -eu
seconds=${1:-30}
root=$(cd "$(dirname "$0")/.." && pwd)
build=$root/build-fuzz
command -v clang++ >/dev/null || { echo "fuzz.sh: clang++ is needed (apt-get install clang)" >&2; exit 1; }

cmake -S "$root" -B "$build" -G Ninja -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DDETOUR_FUZZ=ON -DDETOUR_TESTS=OFF >/dev/null
targets="socks5_fuzz http_connect_fuzz tls_sni_fuzz http_host_fuzz"
ninja -C "$build" $targets

for target in $targets; do
  corpus=$build/corpus/$target
  mkdir -p "$corpus"
  echo "fuzz.sh: $target for ${seconds}s"
  # -max_len above the HTTP head and ClientHello bounds, so the oversized paths are reachable.
  (cd "$build" && "./test/fuzz/$target" -max_total_time="$seconds" -max_len=20000 -timeout=10 \
     -print_final_stats=1 "$corpus" "$root/test/fuzz/seeds/$target")
done
