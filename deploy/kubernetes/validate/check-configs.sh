#!/usr/bin/env bash
# Every ConfigMap's detour config must pass `detourd check`, and the sidecar's init rules must
# carry the exclusions the manifests promise. Usage: check-configs.sh DETOURD
set -euo pipefail
detourd=$1
here=$(dirname "$(readlink -f "$0")")
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
node "$here/validate.mjs" --extract "$dir" "$here"/../sidecar/*.yaml "$here"/../gateway/*.yaml
n=0
for f in "$dir"/*; do
  "$detourd" check -c "$f" || { echo "check-configs: detourd check failed on $(basename "$f")" >&2; exit 1; }
  n=$((n + 1))
done
((n == 3)) || { echo "check-configs: expected 3 configs, found $n" >&2; exit 1; }
rules=$("$detourd" rules show -c "$dir/detour-sidecar--rules.yaml")
for want in 'meta skuid @out_exclude_uids counter return' 'elements = { 1337 }' \
  'tcp dport @out_exclude_ports counter return' 'elements = { 22 }' 'elements = { 169.254.169.254, ' \
  'tcp dport 15000 counter return comment "exclude_admin"' 'redirect to :15001 comment "redirect"'; do
  grep -qF -- "$want" <<<"$rules" || { echo "check-configs: sidecar rules lack \"$want\":" >&2; echo "$rules" >&2; exit 1; }
done
echo "check-configs: $n configs pass detourd check; sidecar rules exclude uid 1337, port 22, 169.254.169.254"
