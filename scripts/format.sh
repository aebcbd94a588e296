#!/usr/bin/env bash
# Formats the C++ sources and headers of lib/, daemon/ and test/ with clang-format 14 and the repo's
# .clang-format. Only files git knows about (tracked, or new and not ignored) are touched, so build
# directories never are.
#   scripts/format.sh           rewrite every file that differs, in place
#   scripts/format.sh --check   change nothing; print each file that differs, the number of lines
#                               that would change and the start of the diff; exit 1 if any differs
set -euo pipefail
cd "$(dirname "$0")/.."

# Another clang-format major version formats differently, so the version is part of the contract.
clang_format=clang-format-14
check=""
case "${1:-}" in
  "") ;;
  --check) check=1 ;;
  *) echo "format.sh: unknown option $1 (usage: scripts/format.sh [--check])" >&2; exit 2 ;;
esac
command -v "$clang_format" >/dev/null || {
  echo "format.sh: $clang_format is needed (scripts/install-deps.sh installs it)" >&2
  exit 2
}

# embedded_config.cpp.in is C++ apart from an @VARIABLE@ inside a raw string, which clang-format
# leaves alone.
files=()
while IFS= read -r -d '' f; do
  [[ -f $f ]] && files+=("$f")  # skips a tracked file deleted in the work tree
done < <(git ls-files -z --cached --others --exclude-standard -- \
  'lib/*.cpp' 'lib/*.hpp' 'lib/*.cpp.in' 'daemon/*.cpp' 'daemon/*.hpp' 'test/*.cpp' 'test/*.hpp' | sort -zu)

if [[ -z $check ]]; then
  "$clang_format" -i --style=file "${files[@]}"
  exit 0
fi

differing=0
for f in "${files[@]}"; do
  if ! d=$("$clang_format" --style=file "$f" | diff -u --label "$f" --label "$f (formatted)" "$f" -); then
    ((differing += 1))
    changed=$(tail -n +3 <<<"$d" | grep -c '^[-+]' || true)
    echo "format: $f: $changed lines differ"
    sed -n '3,14p' <<<"$d"
  fi
done
if ((differing)); then
  echo "format: $differing of ${#files[@]} files differ from .clang-format; scripts/format.sh fixes them" >&2
  exit 1
fi
echo "format: ${#files[@]} files clean"
