#!/usr/bin/env bash
# Runs clang-tidy 14 with the repo's .clang-tidy over every translation unit of lib/ and daemon/ (and,
# through HeaderFilterRegex, the lib/ headers they include), one process per core.
#   scripts/tidy.sh [BUILD_DIR]   BUILD_DIR holds compile_commands.json (default ./build, the release
#                                 build of scripts/build.sh)
#   scripts/tidy.sh BUILD_DIR FILE...   only these sources (paths relative to the repo), e.g. the
#                                 files a branch changed: git diff --name-only main -- lib daemon
#   scripts/tidy.sh --analyze REGEX [BUILD_DIR] [FILE...]   the clang-analyzer-* checks only on the
#                                 sources whose repo path matches REGEX (extended regex), every other
#                                 check everywhere. The analyzer is 60% of the run (rule_plan.cpp:
#                                 18.4 s with it, 7.8 s without); CI keeps it on the code that
#                                 parses bytes from peers and files, where its path-sensitive checks
#                                 (out-of-bounds reads, use of undefined values) matter most.
# Prints each finding once, even when a header is seen by several translation units; exits 1 if
# there is any finding or a file fails to parse.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
analyze=
if [[ ${1:-} == --analyze ]]; then
  analyze=$2
  shift 2
fi
build=$(cd "${1:-$root/build}" && pwd)
(($#)) && shift
only=("$@")
clang_tidy=clang-tidy-14
command -v "$clang_tidy" >/dev/null || {
  echo "tidy.sh: $clang_tidy is needed (scripts/install-deps.sh installs it)" >&2
  exit 2
}
[[ -f $build/compile_commands.json ]] || {
  echo "tidy.sh: no $build/compile_commands.json; run scripts/build.sh first" >&2
  exit 2
}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The build force-includes CMake's wrapper of lib/detour/pch.hpp, precompiled by GCC; clang would find
# the .gch beside it and reject it. Dropping the force-include also proves that every file includes
# what it uses rather than leaning on the precompiled header. Only sources of lib/ and daemon/ are
# kept: the generated embedded_config.cpp is a template's output, and tests are not held to the checks.
python3 - "$build/compile_commands.json" "$root" >"$work/compile_commands.json" <<'EOF'
import json, shlex, sys
database, root = sys.argv[1], sys.argv[2]
kept = []
for entry in json.load(open(database)):
    if not entry["file"].startswith((root + "/lib/", root + "/daemon/")):
        continue
    args = entry.get("arguments") or shlex.split(entry["command"])
    out, i = [], 0
    while i < len(args):
        if args[i] == "-include" and args[i + 1].endswith("cmake_pch.hxx"):
            i += 2
            continue
        if args[i] != "-Winvalid-pch":
            out.append(args[i])
        i += 1
    kept.append({"directory": entry["directory"], "file": entry["file"], "arguments": out})
json.dump(kept, sys.stdout, indent=1)
EOF

tidy_one() {
  local log extra=()
  log=$work/log/$(tr / _ <<<"$1")
  # Checks given on the command line are appended to the .clang-tidy list, so this only removes.
  if [[ -n $analyze ]] && ! grep -Eq -- "$analyze" <<<"${1#"$root"/}"; then
    extra=(--checks=-clang-analyzer-*)
  else
    echo "$1" >>"$work/analyzed"
  fi
  "$clang_tidy" -p "$work" --quiet "${extra[@]}" "$1" >"$log.out" 2>"$log.err" || echo "$1" >>"$work/failed"
}
export -f tidy_one
export clang_tidy work analyze root
mkdir "$work/log"
start=$(date +%s)
# Largest sources first, so the last one to finish is a short one and no core waits on it.
python3 -c 'import json, os, sys
files = [e["file"] for e in json.load(open(sys.argv[1]))]
print("\n".join(sorted(files, key=lambda f: (-os.path.getsize(f), f))))' "$work/compile_commands.json" >"$work/files"
if ((${#only[@]})); then
  printf '%s\n' "${only[@]/#/$root/}" | grep -Fx -f - "$work/files" >"$work/only" || true
  mv "$work/only" "$work/files"
fi
xargs -d '\n' -P "$(nproc)" -n 1 bash -c 'tidy_one "$1"' _ <"$work/files"

# A diagnostic is its "file:line:col: warning|error:" line plus the notes, source excerpts and fix-it
# lines under it; a header's diagnostics repeat in every translation unit that includes it.
cat "$work"/log/*.out | awk -v root="$root/" -v count="$work/count" '
  /^[^ ]+:[0-9]+:[0-9]+: (warning|error): / { keep = !($0 in seen); seen[$0] = 1; n += keep }
  keep { if (index($0, root) == 1) $0 = substr($0, length(root) + 1); print }
  END { print n + 0 >count }'
findings=$(<"$work/count")

# A file that does not parse has its errors among the findings above; anything else clang-tidy said
# (a crash, a bad option) is only in its own log.
if [[ -s $work/failed ]]; then
  while read -r f; do
    echo "tidy: clang-tidy failed on ${f#"$root"/}" >&2
    grep -v -e ' generated\.$' -e '^Error while processing ' "$work/log/$(tr / _ <<<"$f").err" >&2 || true
  done <"$work/failed"
fi
analyzed=$(cat "$work/analyzed" 2>/dev/null | wc -l)
echo "tidy: $findings findings in $(wc -l <"$work/files") translation units, $analyzed of them with the" \
  "analyzer ($(($(date +%s) - start))s)" >&2
[[ $findings -eq 0 && ! -s $work/failed ]]
