#!/usr/bin/env bash
# Installs the dependencies (scripts/install-deps.sh), configures and builds detour.
#   scripts/build.sh                  release build with tests in ./build
#   scripts/build.sh --sanitize       ASan+UBSan build (default dir ./build-asan)
#   scripts/build.sh --dir DIR        build directory
set -euo pipefail
cd "$(dirname "$0")/.."

dir=build
sanitize=OFF
while (($#)); do
  case "$1" in
    --sanitize) sanitize=ON; dir=build-asan ;;
    --dir) dir="$2"; shift ;;
    *) echo "build.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done

./scripts/install-deps.sh
# ccache and precompiled headers disagree on timestamps unless told to relax.
export CCACHE_SLOPPINESS=pch_defines,time_macros,include_file_mtime,include_file_ctime
cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDETOUR_SANITIZE="$sanitize" >/dev/null
cmake --build "$dir" -j "$(nproc)"
