#!/usr/bin/env bash
# Makes the Debian package from the release build and checks it with lintian.
#   scripts/package.sh                 build/ (built first if missing) -> build/package/detour_VERSION_amd64.deb
#   scripts/package.sh --dir DIR       another build directory
#   scripts/package.sh --out DIR       where the .deb goes
# Prints the .deb's path on its last line. Exits non-zero if lintian finds an error.
set -euo pipefail
cd "$(dirname "$0")/.."

dir=build
out=""
while (($#)); do
  case "$1" in
    --dir) dir="$2"; shift ;;
    --out) out="$2"; shift ;;
    *) echo "package.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
out=${out:-$dir/package}

if [[ ! -f $dir/CPackConfig.cmake ]]; then
  ./scripts/build.sh --dir "$dir"
fi
mkdir -p "$out"
rm -f "$out"/detour_*.deb
# CPack installs from the build tree, building first whatever is out of date in it.
(cd "$dir" && cpack -G DEB -B "$(realpath "$out")" >/dev/null)
rm -rf "$out/_CPack_Packages"
deb=$(echo "$out"/detour_*_amd64.deb)
[[ -f $deb ]] || { echo "package.sh: cpack made no .deb in $out" >&2; exit 1; }

# Errors fail; warnings and notes are printed for a person to judge.
lintian --fail-on error --display-info --tag-display-limit 0 "$deb" >&2
echo "$deb"
