#!/usr/bin/env bash
# Benchmarks detourd against HAProxy (with and without splice) and redsocks→microsocks, with a
# direct baseline, inside a network namespace of its own. See docs/BENCHMARKS.md.
#
#   sudo scripts/bench.sh [--quick] [--only NAME,...] [--dests LIST] [--detourd PATH] [--workers N] [--out DIR]
#   sudo scripts/bench.sh --only detourd,detourd-b --workloads wrk_close --b-scrape 1
#                                    (A/B: detourd-b's /metrics scraped every second, detourd's off)
#   sudo scripts/bench.sh --only detourd,detourd-b --workloads latency_http --b-config 'sniff: {enabled: false}'
#                                    (A/B: the cost of sniffing the Host on port 8080)
#
# Everything (servers, nft redirect, proxies, clients) runs inside `ip netns add detour-bench-PID`;
# the host's ruleset and addresses are never touched, and the namespace is deleted on every exit.
set -euo pipefail

script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo_dir=$(cd "$script_dir/.." && pwd)

usage() {
  cat <<'EOF'
usage: scripts/bench.sh [options]            (run as root)
  --quick          1 repetition, 1-second loads, few connections: proves the script works
  --only LIST      comma-separated subset of: direct,haproxy,haproxy-splice,redsocks,detourd
  --workloads LIST comma-separated subset of: iperf1,iperf8,wrk_close,wrk_keepalive,idle_rss,latency,
                   latency_http,active100,active10k, and (not in the default run) active1k,
                   active10k_slow: 1000 connections every 100 ms against 10000 every second, the
                   same 10,000 requests/s, so that CPU per request compares by connection count alone
  --dests LIST     destinations the clients connect to, comma-separated subset of: lo4 (127.0.0.1),
                   lo6 (::1), br4 (10.77.0.1), br6 (fd77::1); default lo4,lo6,br4 (--quick: lo4,lo6)
  --detourd PATH   detourd binary (default: build/daemon/detourd)
  --conn-load PATH the active workloads' load generator and echo server (default:
                   build/test/conn_load; `ninja -C build conn_load`)
  --compare PATH   also run this second detourd binary as proxy `detourd-b` (A/B of a change in one
                   run, interleaved); add detourd-b to --only if --only is given
  --scrape S       scrape detourd's GET /metrics every S seconds with curl during each load (the
                   admin endpoint is `listen: off` otherwise, so "metrics off" is really off)
  --b-scrape S     scrape only detourd-b every S seconds: with no --compare, detourd-b is the same
                   binary, and the run is the A/B of metrics scraped against metrics off
  --b-config YAML  lines appended to detourd-b's config (with no --compare, the same binary): the
                   A/B of a setting, e.g. --b-config 'sniff: {enabled: false}'
  --workers N      scaling run: detourd workers N, HAProxy nbthread N, nothing pinned to a CPU
  --reps N         repetitions (default 3; median reported)
  --seconds N      duration of each iperf3/wrk load (default 5)
  --idle N         idle connections held for the RSS figure (default 5000)
  --out DIR        results directory (default build/bench, or build/bench-workersN)
  --no-install     fail instead of installing missing peers with apt-get
  --trace CMD      attach CMD -p PID to the (first) proxy process during each load and stop it with
                   SIGINT after, e.g. --trace 'strace -c -f -o /tmp/st-%n.txt' or
                   --trace 'perf record -e cpu-clock -g -o /tmp/perf-%n.data'; %n becomes
                   PROXY-DEST-WORKLOAD-N. Figures measured under a tracer are not comparable.
EOF
}

all_proxies=direct,haproxy-splice,haproxy,redsocks,detourd
all_workloads=iperf1,iperf8,wrk_close,wrk_keepalive,idle_rss,latency,latency_http,active100,active10k
quick=0
only=$all_proxies
workloads=$all_workloads
dests=""
detourd_bin=$repo_dir/build/daemon/detourd
conn_load=$repo_dir/build/test/conn_load
workers=0
reps=3
seconds=5
out=""
install=1
inner=0
idle_count=""
compare_bin=""
trace=""
scrape=0
b_scrape=""
b_config=""

while (($#)); do
  case $1 in
    --quick) quick=1 ;;
    --only) only=$2; shift ;;
    --workloads) workloads=$2; shift ;;
    --dests) dests=$2; shift ;;
    --detourd) detourd_bin=$2; shift ;;
    --conn-load) conn_load=$2; shift ;;
    --compare) compare_bin=$2; shift ;;
    --workers) workers=$2; shift ;;
    --reps) reps=$2; shift ;;
    --seconds) seconds=$2; shift ;;
    --idle) idle_count=$2; shift ;;
    --out) out=$2; shift ;;
    --no-install) install=0 ;;
    --trace) trace=$2; shift ;;
    --scrape) scrape=$2; shift ;;
    --b-scrape) b_scrape=$2; shift ;;
    --b-config) b_config=$2; shift ;;
    --inner) inner=1 ;;
    -h | --help) usage; exit 0 ;;
    *) echo "bench: unknown option $1" >&2; usage >&2; exit 2 ;;
  esac
  shift
done

if ((quick)); then
  reps=1
  seconds=1
fi
dests=${dests:-$( ((quick)) && echo lo4,lo6 || echo lo4,lo6,br4)}
idle_count=${idle_count:-$((quick ? 500 : 5000))}
latency_count=$((quick ? 200 : 1000))
if [[ -z $out ]]; then
  out=$repo_dir/build/bench
  ((workers == 0)) || out+=-workers$workers
fi
detourd_bin=$(realpath -m "$detourd_bin")
conn_load=$(realpath -m "$conn_load")
out=$(realpath -m "$out")
if [[ -n $b_scrape || -n $b_config ]] && [[ -z $compare_bin ]] && ((!inner)); then compare_bin=$detourd_bin; fi
[[ -z $compare_bin ]] || compare_bin=$(realpath -m "$compare_bin")
b_scrape=${b_scrape:-$scrape}
for interval in "$scrape" "$b_scrape"; do
  [[ $interval =~ ^[0-9]+([.][0-9]+)?$ ]] || { echo "bench: --scrape and --b-scrape take seconds, not $interval" >&2; exit 2; }
done

# Addresses and ports inside the namespace. Users reach services on loopback as often as on an
# interface's address, and the kernel takes a different path for each (loopback's own device, and
# the redirect's rewrite to 127.0.0.1/::1 is a no-op there), so each is a destination of its own.
# The interface addresses sit on a bridge with no ports (this kernel has no `dummy` driver); a
# bridge's own addresses are local like any other.
declare -A dest_addrs=([lo4]=127.0.0.1 [lo6]=::1 [br4]=10.77.0.1 [br6]=fd77::1)
IFS=, read -ra dest_names <<<"$dests"
((${#dest_names[@]})) || { echo "bench: --dests is empty" >&2; exit 2; }
for dest in "${dest_names[@]}"; do
  [[ -n ${dest_addrs[$dest]:-} ]] || { echo "bench: unknown destination $dest (lo4, lo6, br4, br6)" >&2; exit 2; }
done
proxy_port=15001
socks_port=1080
iperf_port=5201
http_port=8080
greet_port=9000
echo_port=9100
mark=0x1d7

log() { printf 'bench: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

# ---------------------------------------------------------------------------------------------
# Outer part: runs on the host, only to install packages and to own the namespace's lifetime.
# ---------------------------------------------------------------------------------------------
if ((!inner)); then
  ((EUID == 0)) || die "run as root (it creates a network namespace and nft rules inside it)"
  ((workers >= 0)) || die "--workers must be a positive number"

  declare -A need=([haproxy]=haproxy [redsocks]=redsocks [microsocks]=microsocks [nginx]=nginx-light
                   [iperf3]=iperf3 [wrk]=wrk [gnuplot]=gnuplot-nox [python3]=python3 [nft]=nftables
                   [taskset]=util-linux [setpriv]=util-linux [ss]=iproute2 [curl]=curl)
  missing=()
  for tool in "${!need[@]}"; do
    command -v "$tool" >/dev/null || missing+=("${need[$tool]}")
  done
  if ((${#missing[@]})); then
    ((install)) || die "missing packages: ${missing[*]}"
    log "installing ${missing[*]}"
    # Debian starts the services it installs (nginx on port 80, haproxy, redsocks) where there is
    # an init system; the benchmark runs its own copies in its namespace and wants none on the
    # host. policy-rc.d answering 101 is Debian's way to say "start nothing".
    policy=/usr/sbin/policy-rc.d
    own_policy=0
    if [[ ! -e $policy ]]; then
      printf '#!/bin/sh
exit 101
' >"$policy"
      chmod 755 "$policy"
      own_policy=1
    fi
    status=0
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      $(printf '%s\n' "${missing[@]}" | sort -u) >&2 || status=$?
    ((own_policy == 0)) || rm -f "$policy"
    ((status == 0)) || die "apt-get install failed"
  fi
  if [[ -n $compare_bin && $only == "$all_proxies" ]]; then
    only+=,detourd-b
  fi
  if [[ ,$only, == *,detourd,* && ! -x $detourd_bin ]]; then
    log "no detourd at $detourd_bin: build it first (cmake -S . -B build -G Ninja && ninja -C build detourd); skipping detourd"
    only=$(tr ',' '\n' <<<"$only" | grep -vx detourd | paste -sd, -)
  fi

  if [[ ,$workloads, == *,active* && ! -x $conn_load ]]; then
    log "no conn_load at $conn_load: build it first (ninja -C build conn_load); skipping the active workloads"
    workloads=$(tr ',' '\n' <<<"$workloads" | grep -v '^active' | paste -sd, -)
  fi

  mkdir -p "$out"
  ns=detour-bench-$$
  cleanup() {
    local pids
    # Whatever still runs in our namespace was started by this script.
    pids=$(ip netns pids "$ns" 2>/dev/null || true)
    if [[ -n $pids ]]; then
      kill -TERM $pids 2>/dev/null || true
      sleep 0.5
      pids=$(ip netns pids "$ns" 2>/dev/null || true)
      [[ -z $pids ]] || kill -KILL $pids 2>/dev/null || true
    fi
    ip netns del "$ns" 2>/dev/null || true
  }
  trap cleanup EXIT
  trap 'exit 130' INT TERM
  ip netns add "$ns"
  quick_flag=()
  ((quick == 0)) || quick_flag=(--quick)
  log "namespace $ns, results in $out"
  ip netns exec "$ns" env BENCH_NS="$ns" bash "${BASH_SOURCE[0]}" --inner --only "$only" \
    --workloads "$workloads" --dests "$dests" --detourd "$detourd_bin" --conn-load "$conn_load" --compare "$compare_bin" --workers "$workers" --reps "$reps" \
    --seconds "$seconds" --idle "$idle_count" --out "$out" --trace "$trace" --scrape "$scrape" \
    --b-scrape "$b_scrape" --b-config "$b_config" "${quick_flag[@]}"
  exit 0
fi

# ---------------------------------------------------------------------------------------------
# Inner part: runs inside the namespace.
# ---------------------------------------------------------------------------------------------
[[ -n ${BENCH_NS:-} ]] || die "--inner is for bench.sh itself"
work=$(mktemp -d /tmp/detour-bench.XXXXXX)
chmod 755 "$work"
server_pids=()
proxy_pids=()
redsocks_pid=""

wrap=()  # BENCH_WRAP, read below
stop_pids() {
  local pid
  for pid in "$@"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "$@"; do
    # Bounded: a proxy that ignores SIGTERM for 3 s gets SIGKILL; under BENCH_WRAP, 60 s, since a
    # tool such as callgrind writes its results as the process exits, slowly.
    for _ in $(seq $((${#wrap[@]} ? 600 : 30))); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
}
inner_cleanup() {
  stop_pids "${proxy_pids[@]}" "${server_pids[@]}"
  rm -rf "$work"
}
trap inner_cleanup EXIT

# Pinning: the proxy on CPU 0, load generators and servers on CPU 1. A scaling run pins nothing.
if ((workers)); then
  pin_proxy=()
  pin_load=()
  threads=$workers
else
  pin_proxy=(taskset -c 0)
  pin_load=(taskset -c 1)
  threads=1
fi
python=$(command -v /usr/bin/python3 || command -v python3)
# BENCH_WRAP: a command that HAProxy and detourd are started under, for diagnosis only, e.g.
# BENCH_WRAP='valgrind --tool=callgrind --callgrind-out-file=/tmp/cg.%p' (instruction counts).
read -ra wrap <<<"${BENCH_WRAP:-}"
tcpbench=("$python" "$script_dir/bench/tcpbench.py")

# 5000 idle connections through a proxy take 10000 descriptors in it; the hard limit may be
# below 65536 where CAP_SYS_RESOURCE is withheld (containers).
ulimit -n "$(hard=$(ulimit -Hn); [[ $hard == unlimited || $hard -gt 65536 ]] && echo 65536 || echo "$hard")"
ip link set lo up
ip link add dbr0 type bridge
ip addr add "${dest_addrs[br4]}/24" dev dbr0
ip -6 addr add "${dest_addrs[br6]}/64" dev dbr0 nodad
ip link set dbr0 up
# Short connections by the ten thousand: reuse TIME_WAIT ports for new connections. Ephemeral ports
# start above the proxies' listening ports (15001-15500), which a TIME_WAIT socket could otherwise
# occupy. These sysctls are per namespace.
sysctl -qw net.ipv4.ip_local_port_range="20000 65000" net.ipv4.tcp_tw_reuse=1

# The selected destinations' addresses: all of them, each family's, and as a URL's host.
dest_list=() dest_list4=() dest_list6=()
for dest in "${dest_names[@]}"; do
  dest_list+=("${dest_addrs[$dest]}")
  if [[ ${dest_addrs[$dest]} == *:* ]]; then dest_list6+=("${dest_addrs[$dest]}"); else dest_list4+=("${dest_addrs[$dest]}"); fi
done
url_host() { [[ $1 == *:* ]] && echo "[$1]" || echo "$1"; }

wait_listen() {  # port [timeout_s]: wait until something listens on the port
  local port=$1 tries=$((${2:-5} * 20))
  for _ in $(seq "$tries"); do
    [[ -n $(ss -Hltn "sport = :$port") ]] && return 0
    sleep 0.05
  done
  log "nothing listens on port $port"
  return 1
}

# --- servers ---------------------------------------------------------------------------------
head -c 128 /dev/zero | tr '\0' 'x' >"$work/f128"
cat >"$work/nginx.conf" <<EOF
worker_processes 1;
daemon off;
pid $work/nginx.pid;
error_log $work/nginx-error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 10000000;
  keepalive_timeout 60s;
  server {
$(for a in "${dest_list[@]}"; do echo "    listen $(url_host "$a"):$http_port;"; done)
    location / { root $work; }
  }
}
EOF
"${pin_load[@]}" nginx -c "$work/nginx.conf" 2>>"$work/nginx-error.log" &
server_pids+=($!)
"${pin_load[@]}" "${tcpbench[@]}" serve --addr "$(IFS=,; echo "${dest_list[*]}")" --port "$greet_port" &
server_pids+=($!)
wait_listen "$http_port" || die "nginx did not start: $(cat "$work/nginx-error.log")"
wait_listen "$greet_port" || die "the greeting server did not start"
if [[ ,$workloads, == *,active* ]]; then
  "${pin_load[@]}" "$conn_load" serve --addr "$(IFS=,; echo "${dest_list[*]}")" --port "$echo_port" &
  server_pids+=($!)
  wait_listen "$echo_port" || die "the echo server did not start"
fi

# The active workloads' connections: each costs a proxy two descriptors (client and upstream), and
# both HAProxy and detourd hold a pipe (two more) only while bytes are in it, from a pool of 256
# kept per thread; 1200 descriptors are left for those pools, the listeners and the event loops.
# Within the hard limit (20000 in a container without CAP_SYS_RESOURCE) that is 9400, not 10000.
active_small=100
active_large=$((quick ? 500 : 10000))
active_fit=$((($(ulimit -n) - 1200) / 2))
if ((active_large > active_fit)); then
  [[ ,$workloads, != *,active10k* ]] || log "active10k: $active_large connections do not fit a proxy's ulimit -n $(ulimit -n); holding $active_fit"
  active_large=$active_fit
fi

# --- redirect --------------------------------------------------------------------------------
redirect() {  # exclusion-expression | "": install (or remove) the redirect of server traffic
  nft delete table inet detour_bench 2>/dev/null || true
  [[ -n $1 ]] || return 0
  nft -f - <<EOF
table inet detour_bench {
  chain output {
    type nat hook output priority -99; policy accept;
    $1 return
$(for family in ip ip6; do
    [[ $family == ip ]] && set -- "${dest_list4[@]}" || set -- "${dest_list6[@]}"
    (($#)) || continue
    echo "    $family daddr { $(IFS=,; echo "$*") } tcp dport { $iperf_port, $http_port, $greet_port, $echo_port } redirect to :$proxy_port"
  done)
  }
}
EOF
}

# --- proxies ---------------------------------------------------------------------------------
start_proxy() {  # name: start a fresh proxy, set proxy_pids and the redirect
  local name=$1
  proxy_pids=()
  case $name in
    direct)
      redirect ""
      return 0
      ;;
    haproxy | haproxy-splice)
      cat >"$work/haproxy.cfg" <<EOF
global
  nbthread $threads
  maxconn $((active_large + 100 > 7000 ? active_large + 100 : 7000))
  # Pipes are taken per transfer and given back; the default (maxconn / 4) would count 4700
  # descriptors against the limit for pipes a request of 64 bytes never needs at once.
  maxpipes 256
  user nobody
  group nogroup
defaults
  mode tcp
  timeout connect 5s
  timeout client 1h
  timeout server 1h
$([[ $name == haproxy-splice ]] && printf '  option splice-request\n  option splice-response\n')
listen transparent
  bind 127.0.0.1:$proxy_port
  bind [::1]:$proxy_port
  # 0.0.0.0:0: connect to the connection's original destination (SO_ORIGINAL_DST).
  server orig 0.0.0.0:0
EOF
      "${pin_proxy[@]}" "${wrap[@]}" haproxy -db -f "$work/haproxy.cfg" 2>>"$work/haproxy.log" &
      proxy_pids+=($!)
      redirect "meta skuid nobody"
      ;;
    redsocks)
      "${pin_proxy[@]}" setpriv --reuid=nobody --regid=nogroup --clear-groups \
        microsocks -i 127.0.0.1 -p "$socks_port" 2>/dev/null & # it logs every connection
      proxy_pids+=($!)
      # redsocks' default connection cap derives from a descriptor count it guesses: raise it to
      # what the idle workload holds.
      cat >"$work/redsocks.conf" <<EOF
base {
  log_debug = off; log_info = off; log = stderr; daemon = off; redirector = iptables;
  rlimit_nofile = $(ulimit -n); redsocks_conn_max = $(((idle_count > active_large ? idle_count : active_large) + 1000));
}
redsocks { local_ip = 127.0.0.1; local_port = $proxy_port; ip = 127.0.0.1; port = $socks_port; type = socks5; }
EOF
      "${pin_proxy[@]}" redsocks -c "$work/redsocks.conf" 2>>"$work/redsocks.log" &
      redsocks_pid=$!
      proxy_pids+=($!)
      wait_listen "$socks_port" || return 1
      # redsocks talks to microsocks on loopback (not redirected); microsocks runs as nobody.
      redirect "meta skuid nobody"
      ;;
    detourd | detourd-b)
      scrape_every=$([[ $name == detourd ]] && echo "$scrape" || echo "$b_scrape")
      local bin
      bin=$([[ $name == detourd ]] && echo "$detourd_bin" || echo "$compare_bin")
      cat >"$work/detour.yaml" <<EOF
mode: direct
port: $proxy_port
workers: $threads
mark: $mark
log: {level: warn}
intercept: {enabled: false}
EOF
      # A detourd from before the admin endpoint (an A/B against an older commit) knows no `admin`
      # key and has no endpoint to turn off.
      if scraping || has_admin_section "$bin"; then
        echo "admin: {listen: $(scraping && echo "\"127.0.0.1:$admin_port\"" || echo off)}" >>"$work/detour.yaml"
      fi
      # limits.max_connections auto is (ulimit -n - 580) / 3, which holds 3 descriptors for every
      # connection; the active workload needs its connections admitted up to what fits.
      if [[ ,$workloads, == *,active* ]] && accepts_config "$bin" 'limits: {max_connections: 1}'; then
        echo "limits: {max_connections: $((active_large + 100))}" >>"$work/detour.yaml"
      fi
      [[ $name == detourd || -z $b_config ]] || printf '%s\n' "$b_config" >>"$work/detour.yaml"
      "${pin_proxy[@]}" "${wrap[@]}" "$bin" run -c "$work/detour.yaml" 2>>"$work/detourd.log" &
      proxy_pids+=($!)
      redirect "meta mark $mark"
      ! scraping || wait_listen "$admin_port" $((${#wrap[@]} ? 60 : 5)) || return 1
      ;;
    *) die "unknown proxy $name" ;;
  esac
  wait_listen "$proxy_port" $((${#wrap[@]} ? 60 : 5))
}

scraping() { awk -v s="$scrape_every" 'BEGIN { exit !(s > 0) }'; }

# Scrapes GET /metrics every $scrape_every seconds until stopped, one line per scrape in
# $work/scrapes: curl's exit status and the HTTP status. Bounded by the longest workload (120 s).
start_scraper() {
  scraper=""
  : >"$work/scrapes"
  scraping || return 0
  (
    deadline=$((SECONDS + 120))
    while ((SECONDS < deadline)); do
      status=0
      code=$("${pin_load[@]}" curl -sS -o /dev/null --max-time 2 -w '%{http_code}' \
        "http://127.0.0.1:$admin_port/metrics" 2>/dev/null) || status=$?
      echo "$status $code" >>"$work/scrapes"
      sleep "$scrape_every"
    done
  ) &
  scraper=$!
}

# Stops the scraper; says how many scrapes were answered, and fails if any was not.
stop_scraper() {
  [[ -n $scraper ]] || return 0
  stop_pids "$scraper"
  local total answered
  total=$(wc -l <"$work/scrapes")
  answered=$(grep -cx '0 200' "$work/scrapes" || true)
  log "  $1: $answered of $total scrapes of /metrics answered 200"
  ((total > 0 && answered == total))
}

stop_proxy() {
  stop_pids "${proxy_pids[@]}"
  proxy_pids=()
  redirect ""
}

# --- workloads -------------------------------------------------------------------------------
run_iperf() {  # streams
  local server result
  "${pin_load[@]}" iperf3 -s -B "$addr" -p "$iperf_port" -1 >/dev/null 2>&1 &
  server=$!
  wait_listen "$iperf_port" || { stop_pids "$server"; return 1; }
  result=$("${pin_load[@]}" timeout $((seconds + 20)) iperf3 -c "$addr" -p "$iperf_port" \
    -P "$1" -t "$seconds" --connect-timeout 3000 -J) || { stop_pids "$server"; return 1; }
  stop_pids "$server"
  "$python" -c 'import json, sys
r = json.load(sys.stdin)["end"]["sum_received"]
print("bench:   iperf3: %d bytes" % r["bytes"], file=sys.stderr)
print("%.3f" % (r["bits_per_second"] / 1e9))' <<<"$result"
}

run_wrk() {  # close|keepalive
  local header=() result
  [[ $1 == close ]] && header=(-H "Connection: close")
  result=$("${pin_load[@]}" timeout $((seconds + 20)) wrk -t1 -c50 -d"${seconds}s" --timeout 2s \
    "${header[@]}" "http://$(url_host "$addr"):$http_port/f128") || return 1
  grep -E 'requests in|errors|Non-2xx' <<<"$result" | sed 's/^ */bench:   wrk: /' >&2 || true
  awk '/^Requests\/sec:/ { print $2 }' <<<"$result"
}

# How many of `count` connections the proxy can hold: redsocks holds two splice pipes per
# connection even when idle, six descriptors each, and gets what fits; every other proxy all.
connections_that_fit() {  # count what
  local limit=$((($(ulimit -n) - 100) / 6))
  if ((${#proxy_pids[@]})) && [[ ${proxy_pids[-1]} == "$redsocks_pid" ]] && (($1 > limit)); then
    log "  redsocks: $1 $2 need more than ulimit -n $(ulimit -n); holding $limit"
    echo "$limit"
  else
    echo "$1"
  fi
}

run_idle() {
  local pids count
  pids=$(IFS=,; echo "${proxy_pids[*]}")
  count=$(connections_that_fit "$idle_count" "idle connections")
  "${pin_load[@]}" timeout 120 "${tcpbench[@]}" hold --addr "$addr" --port "$greet_port" \
    --count "$count" --pids "$pids" --max-seconds 90
}

run_latency() {
  "${pin_load[@]}" timeout 120 "${tcpbench[@]}" latency --addr "$addr" --port "$greet_port" \
    --count "$latency_count" --max-seconds 90
}

# The client speaks first, on a port detourd sniffs by default (8080): detourd waits for the
# request to read its Host before it connects, where the greeting workload connects at once.
run_latency_http() {
  "${pin_load[@]}" timeout 120 "${tcpbench[@]}" latency --addr "$addr" --port "$http_port" \
    --count "$latency_count" --max-seconds 90 \
    --request 'GET /f128 HTTP/1.1\r\nHost: bench.example\r\nConnection: close\r\n\r\n'
}

# Connections held open, each sending 64 bytes every 100 ms and timing the echo (conn_load). The
# figures: connections, requests answered per second, round trip p50 and p99 (µs), the proxy's CPU
# per request (µs, all its threads), and connections lost on the way.
run_active() {  # connections [interval-ms]
  local count interval=${2:-100} pids output
  pids=$(IFS=,; echo "${proxy_pids[*]}")
  count=$(connections_that_fit "$1" connections)
  output=$("${pin_load[@]}" timeout $((seconds + 90)) "$conn_load" load --addr "$addr" --port "$echo_port" \
    --conns "$count" --interval-ms "$interval" --seconds "$seconds" --size 64 --pids "$pids") || return 1
  log "  conn_load: $(paste -sd' ' <<<"$output")"
  awk -F= '$1 == "conns" || $1 == "req_per_s" || $1 == "errors" { print }
           $1 == "p50_us" { print "p50=" $2 } $1 == "p99_us" { print "p99=" $2 }
           $1 == "cpu_us_per_request" { print "cpu_per_req=" $2 }' <<<"$output"
}

cpu_ticks() {  # pid...: user+system clock ticks used so far by these processes (all threads)
  local pid total=0 line fields
  for pid in "$@"; do
    read -r line <"/proc/$pid/stat" || continue
    # The fields after the command name (in parentheses, may hold spaces): state is field 3, so
    # utime (14) and stime (15) are at 11 and 12.
    read -ra fields <<<"${line##*) }"
    total=$((total + fields[11] + fields[12]))
  done
  echo "$total"
}

has_admin_section() {  # detourd binary: whether its config has the `admin` section
  accepts_config "$1" 'admin: {listen: off}'
}

accepts_config() {  # detourd-binary yaml: whether that detourd takes this config line (an older one
                    # in an A/B may not know a key)
  printf '%s\n' "$2" >"$work/probe.yaml"
  "$1" check -c "$work/probe.yaml" >/dev/null 2>&1
}

# HAProxy reads the original destination with SO_ORIGINAL_DST for IPv4 only (sock_inet_get_dst in
# 2.6: "we must not do that with other families"); for IPv6 it takes the socket's local address,
# its own listener, and connects to itself in a loop (seen here with [::1]). redsocks 0.5 knows
# IPv4 only. Neither can serve an IPv6 destination, so they are not measured there.
serves_dest() {  # proxy address
  [[ $2 != *:* || $1 == direct || $1 == detourd* ]]
}

measure() {  # proxy workload index: one measurement with a fresh proxy at $addr; prints `key=value`
             # lines (a bare number is the workload's one figure)
  local proxy=$1 workload=$2
  # A fresh listening port each time: connections the previous proxy closed first sit in TIME_WAIT
  # on its port for a minute, and a proxy that probes its port without SO_REUSEADDR (detourd's
  # "port already in use" check) would refuse to start.
  proxy_port=$((15001 + $3 % 500))
  admin_port=$((15501 + $3 % 500))
  scrape_every=0
  local status=0 value="" tracer=""
  if ! start_proxy "$proxy"; then
    stop_proxy
    return 1
  fi
  if [[ -n $trace && -n ${proxy_pids[0]:-} ]]; then
    ${trace//%n/$proxy-$dest-$workload-$3} -p "${proxy_pids[-1]}" >&2 &
    tracer=$!
    sleep 1  # the tracer attaches asynchronously; this is a diagnostic mode, not a measurement
  fi
  local ticks_before started=$EPOCHREALTIME
  ticks_before=$(cpu_ticks "${proxy_pids[@]}")
  start_scraper
  case $workload in
    iperf1) value=$(run_iperf 1) || status=$? ;;
    iperf8) value=$(run_iperf 8) || status=$? ;;
    wrk_close) value=$(run_wrk close) || status=$? ;;
    wrk_keepalive) value=$(run_wrk keepalive) || status=$? ;;
    idle_rss) value=$(run_idle) || status=$? ;;
    latency) value=$(run_latency) || status=$? ;;
    latency_http) value=$(run_latency_http) || status=$? ;;
    active100) value=$(run_active "$active_small") || status=$? ;;
    active10k) value=$(run_active "$active_large") || status=$? ;;
    active1k) value=$(run_active $((quick ? 200 : 1000))) || status=$? ;;
    active10k_slow) value=$(run_active "$active_large" 1000) || status=$? ;;
  esac
  stop_scraper "$proxy $workload" || status=1
  if ((${#proxy_pids[@]})); then
    # How busy the proxy was: near 100% means it was the bottleneck, well below means the load
    # generators (on the other CPU) were, and the proxy only added latency.
    log "  $proxy $dest $workload: proxy CPU $(awk -v t=$(($(cpu_ticks "${proxy_pids[@]}") - ticks_before)) \
      -v hz="$(getconf CLK_TCK)" -v s="$(awk -v a="$started" -v b="$EPOCHREALTIME" 'BEGIN { print b - a }')" \
      'BEGIN { printf "%.0f%%", 100 * t / hz / s }')"
  fi
  if [[ -n $tracer ]]; then
    kill -INT "$tracer" 2>/dev/null || true
    wait "$tracer" 2>/dev/null || true
  fi
  stop_proxy
  ((status == 0)) && [[ -n $value ]] || return 1
  echo "$value"
}

# --- the run ---------------------------------------------------------------------------------
raw=$out/raw.csv
: >"$raw"
IFS=, read -ra proxies <<<"$only"
IFS=, read -ra loads <<<"$workloads"
failures=0
index=0
for proxy in "${proxies[@]}"; do
  for dest in "${dest_names[@]}"; do
    serves_dest "$proxy" "${dest_addrs[$dest]}" || log "$proxy cannot relay to IPv6 destinations: not measured on $dest"
  done
done
for rep in $(seq "$reps"); do
  # Repetitions go round all proxies so that a noisy minute on a shared machine hits them alike,
  # each repetition starting one proxy further on, so that none is always measured last.
  start=$(((rep - 1) % ${#proxies[@]}))
  for proxy in "${proxies[@]:start}" "${proxies[@]:0:start}"; do
    for dest in "${dest_names[@]}"; do
      addr=${dest_addrs[$dest]}
      serves_dest "$proxy" "$addr" || continue
      for workload in "${loads[@]}"; do
        [[ $proxy == direct && $workload == idle_rss ]] && continue
        index=$((index + 1))
        if output=$(measure "$proxy" "$workload" "$index"); then
          log "rep $rep/$reps $proxy $dest $workload: $(paste -sd' ' <<<"$output")"
          while read -r line; do
            # `sub=value` is the figure workload_sub; a bare value is the workload's only figure.
            if [[ $line == *=* ]]; then key=${workload}_${line%%=*}; else key=$workload; fi
            echo "$proxy,$key,$dest,$rep,${line#*=}" >>"$raw"
          done <<<"$output"
        else
          log "rep $rep/$reps $proxy $dest $workload: FAILED"
          failures=$((failures + 1))
          for file in "$work/${proxy%%-*}.log" "$work/nginx-error.log"; do
            if [[ -s $file ]]; then tail -n 5 "$file" | sed "s|^|bench:   $(basename "$file"): |" >&2; fi
          done
        fi
      done
    done
  done
done

cpu=$(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)
title="$(date -u +%Y-%m-%dT%H:%MZ), $(nproc) CPUs ($cpu), Linux $(uname -r), $reps repetition(s), ${seconds}s loads, $idle_count idle connections, $latency_count latency samples, $active_small/$active_large active connections, destinations $(for d in "${dest_names[@]}"; do printf '%s %s, ' "$d" "${dest_addrs[$d]}"; done | sed 's/, $//')"
if ((workers)); then
  title+=", detourd workers $workers vs HAProxy nbthread $workers, no pinning"
else
  title+=", 1 worker / nbthread 1, proxy on CPU 0, load on CPU 1"
fi
if [[ $scrape != 0 || $b_scrape != 0 ]]; then
  title+=", /metrics scraped every ${scrape}s on detourd, ${b_scrape}s on detourd-b (0: admin endpoint off)"
fi
if [[ -n $b_config ]]; then
  title+=", detourd-b config + \`$b_config\`"
fi
"$python" "$script_dir/bench/report.py" "$raw" "$out/results.md" "$out/ratios.dat" "$title"
{
  echo "haproxy: $(haproxy -v 2>/dev/null | head -1)"
  echo "redsocks: $(dpkg-query -W -f='${Version}' redsocks 2>/dev/null)"
  echo "microsocks: $(dpkg-query -W -f='${Version}' microsocks 2>/dev/null)"
  echo "nginx: $(dpkg-query -W -f='${Version}' nginx-light 2>/dev/null)"
  echo "iperf3: $(dpkg-query -W -f='${Version}' iperf3 2>/dev/null)"
  echo "wrk: $(dpkg-query -W -f='${Version}' wrk 2>/dev/null)"
  [[ -x $detourd_bin ]] && echo "detourd: $detourd_bin ($(git -C "$repo_dir" rev-parse --short HEAD 2>/dev/null || echo '?'))"
} >"$out/versions.txt"
columns=$(( $(sed -n 2p "$out/ratios.dat" | grep -o '"' | wc -l) / 2 ))
base=$(sed -n '1s/^# base: //p' "$out/ratios.dat")
gnuplot -e "datafile='$out/ratios.dat'; outfile='$out/ratios.png'; columns=$columns; base='$base'" "$script_dir/bench/ratios.gp" \
  || log "gnuplot failed; the table is still in $out/results.md"
log "table: $out/results.md, chart: $out/ratios.png"
((failures == 0)) || die "$failures measurement(s) failed"
