#!/usr/bin/env bash
# Shows echo mode end to end inside a throw-away network namespace: nothing on the host changes.
# Run as root after scripts/build.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
detourd=${DETOURD:-build/daemon/detourd}
[[ -x $detourd ]] || { echo "demo: build first: scripts/build.sh" >&2; exit 1; }

if [[ ${1:-} != --inside ]]; then
  # unshare -n: a private network namespace that the kernel removes when this script ends.
  exec unshare -n "$0" --inside
fi

ip link set lo up
# A second local address (a bridge without ports: this kernel may have no dummy driver).
ip link add demo0 type bridge
ip addr add 192.0.2.1/24 dev demo0
ip addr add 2001:db8::1/64 dev demo0 nodad
ip link set demo0 up

port=15001
nft -f - <<NFT
table inet demo {
  chain output {
    type nat hook output priority -99; policy accept;
    meta mark 0x1d7 return
    tcp dport { 80, 443, 1234 } redirect to :$port
  }
}
NFT

config=$(mktemp)
trap 'kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; rm -f "$config"' EXIT
printf 'mode: echo\nport: %s\nworkers: 1\nintercept: {enabled: false}\n' "$port" >"$config"
NOTIFY_SOCKET= "$detourd" run -c "$config" 2>/dev/null &
pid=$!
for _ in $(seq 50); do nc -z 127.0.0.1 $port 2>/dev/null && break; sleep 0.1; done

echo "# redirected: 192.0.2.1:80"
nc -N 192.0.2.1 80 </dev/null
echo "# redirected: [2001:db8::1]:443"
nc -N 2001:db8::1 443 </dev/null
echo "# redirected: 127.0.0.1:1234"
nc -N 127.0.0.1 1234 </dev/null
echo "# not redirected: straight to the proxy port (the original destination is the proxy itself)"
nc -N 127.0.0.1 $port </dev/null
