#!/usr/bin/env bash
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

# One target per core at a time: each is single-threaded, so on 2 cores the four take the time of two.
jobs=$(nproc)
run_target() {
  local target=$1 corpus=$build/corpus/$1
  mkdir -p "$corpus"
  # -max_len above the HTTP head and ClientHello bounds, so the oversized paths are reachable.
  (cd "$build" && "./test/fuzz/$target" -max_total_time="$seconds" -max_len=20000 -timeout=10 \
     -print_final_stats=1 "$corpus" "$root/test/fuzz/seeds/$target") >"$build/$target.log" 2>&1
}
status=0
set -- $targets
while (($#)); do
  pids=() names=()
  for _ in $(seq "$jobs"); do
    (($#)) || break
    echo "fuzz.sh: $1 for ${seconds}s"
    run_target "$1" &
    pids+=($!) names+=("$1")
    shift
  done
  for i in "${!pids[@]}"; do
    if ! wait "${pids[$i]}"; then
      status=1
      echo "fuzz.sh: ${names[$i]} failed; its reproducer is in $build/" >&2
    fi
    cat "$build/${names[$i]}.log"
  done
done
exit "$status"
