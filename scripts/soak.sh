#!/usr/bin/env bash
# Soaks detourd under a mixed load for a bounded time, inside a network namespace of its own:
# bulk streams both ways, short connections, idle holders, slow readers, resets from either side,
# upstream failures, and a SIGHUP reload (which replaces the rules) every 30 s. Every byte is
# checked by hash (test/soak/soak_load.py). Every 10 s it samples detourd's descriptors, RSS,
# pipes in use, active connections and CPU time into samples.csv, and plots them (samples.png).
#
# It fails (exit 1, naming the cause) on any lost or corrupted byte, on growth of the descriptor or
# RSS floor after the warm-up by more than 5%, on a failed reload, or when detourd crashes or does
# not stop cleanly.
#
#   scripts/soak.sh [--minutes N | --seconds N] [--out DIR] [--detourd PATH] [--holders N]
#     --minutes N   how long the load runs (default 30, at most 1440)
#     --seconds N   the same in seconds (the CTest version runs 60)
#     --out DIR     samples.csv, samples.png, summary.txt, detourd.log (default ./soak-out)
#     --detourd P   the binary (default ./build/daemon/detourd)
#     --holders N   idle connections held open at any time (default 200)
# Needs root (a namespace and nft rules inside it), python3, nft, ip, curl and gnuplot.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD

duration=$((30 * 60))
out=$repo/soak-out
detourd_bin=$repo/build/daemon/detourd
holders=200
inner=0
while (($#)); do
  case "$1" in
    --minutes) duration=$(($2 * 60)); shift ;;
    --seconds) duration=$2; shift ;;
    --out) out=$2; shift ;;
    --detourd) detourd_bin=$2; shift ;;
    --holders) holders=$2; shift ;;
    --inner) inner=1 ;;
    -h | --help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "soak: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done

log() { printf 'soak: %s\n' "$*" >&2; }
die() { log "FAIL: $*"; exit 1; }

((duration >= 10 && duration <= 1440 * 60)) || die "the duration must be between 10 s and 1440 min (got ${duration} s)"
((holders >= 0 && holders <= 2000)) || die "--holders must be between 0 and 2000"

addr=10.77.0.1
proxy_port=15001
admin=127.0.0.1:15090
sample_every=10
reload_every=30

# ---------------------------------------------------------------------------------------------
# Outer part: on the host, only to own the namespace's lifetime.
# ---------------------------------------------------------------------------------------------
if ((!inner)); then
  ((EUID == 0)) || die "run as root (it creates a network namespace and nft rules inside it)"
  for tool in python3 nft ip curl gnuplot; do
    command -v "$tool" >/dev/null || die "$tool is missing (scripts/install-deps.sh installs it)"
  done
  [[ -x $detourd_bin ]] || die "no detourd at $detourd_bin: build it first (scripts/build.sh)"
  mkdir -p "$out"
  out=$(cd "$out" && pwd)
  ns=detour-soak-$$
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
  log "namespace $ns, $duration s of load, results in $out"
  status=0
  ip netns exec "$ns" env SOAK_NS="$ns" bash "${BASH_SOURCE[0]}" --inner --seconds "$duration" --out "$out" \
    --detourd "$detourd_bin" --holders "$holders" || status=$?
  exit "$status"
fi

# ---------------------------------------------------------------------------------------------
# Inner part: inside the namespace.
# ---------------------------------------------------------------------------------------------
[[ -n ${SOAK_NS:-} ]] || die "--inner is for soak.sh itself"
work=$(mktemp -d /tmp/detour-soak.XXXXXX)
server_pid=""
driver_pid=""
detourd_pid=""
stop_pid() {  # pid: SIGTERM, then SIGKILL after 5 s
  local pid=$1
  [[ -n $pid ]] || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}
inner_cleanup() {
  stop_pid "$driver_pid"
  stop_pid "$detourd_pid"
  stop_pid "$server_pid"
  rm -rf "$work"
}
trap inner_cleanup EXIT

wait_listen() {  # port [seconds]: until something listens on it
  local i
  for i in $(seq $((${2:-10} * 10))); do
    ss -Hltn "sport = :$1" | grep -q . && return 0
    sleep 0.1
  done
  return 1
}

ip link set lo up
# This kernel has no dummy driver; a port-less bridge holds a local address just as well.
ip link add soak0 type bridge
ip addr add "$addr/32" dev soak0
ip link set soak0 up

python3 "$repo/test/soak/soak_load.py" serve --addr "$addr" >"$work/server.log" 2>&1 &
server_pid=$!
for port in 7001 7002 7003 7004; do
  wait_listen "$port" || die "the soak's servers did not start: $(cat "$work/server.log")"
done

config() {  # exclude_ports: the one value each reload flips, so that every reload replaces the rules
  cat >"$work/detour.yaml" <<EOF
mode: direct
port: $proxy_port
log: {level: warn}
admin: {listen: "$admin"}
idle_timeout: 120s
intercept:
  outbound:
    destinations: [$addr/32]
    exclude_ports: [$1]
EOF
}
config ""
"$detourd_bin" run -c "$work/detour.yaml" 2>"$out/detourd.log" &
detourd_pid=$!
ready=0
for _ in $(seq 200); do
  kill -0 "$detourd_pid" 2>/dev/null || die "detourd exited at startup: $(tail -5 "$out/detourd.log")"
  [[ $(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "http://$admin/ready" || true) == 200 ]] && { ready=1; break; }
  sleep 0.1
done
((ready)) || die "detourd was not ready within 20 s: $(tail -5 "$out/detourd.log")"

metric() {  # name [label filter]: the sum of a family's samples in one scrape of /metrics
  awk -v name="$1" -v filter="${2:-}" '
    ($1 == name || index($1, name "{") == 1) && index($1, filter) { sum += $NF } END { printf "%.0f\n", sum }' \
    "$work/metrics"
}
ticks=$(getconf CLK_TCK)
csv=$out/samples.csv
echo "seconds,fds,rss_kib,pipes_in_use,active_connections,cpu_seconds,connections,bytes_checked,errors" >"$csv"
sample() {  # seconds since the load started
  local fds rss cpu stats
  fds=$(find "/proc/$detourd_pid/fd" -mindepth 1 -maxdepth 1 | wc -l)
  rss=$(awk '/^VmRSS:/ { print $2 }' "/proc/$detourd_pid/status")
  # utime and stime, fields 14 and 15 of stat: 12 and 13 once "pid (comm) " is cut off.
  cpu=$(sed 's/^.*) //' "/proc/$detourd_pid/stat" | awk -v t="$ticks" '{ printf "%.2f", ($12 + $13) / t }')
  curl -s --max-time 2 "http://$admin/metrics" >"$work/metrics" || : >"$work/metrics"
  stats=$(python3 -c 'import json,sys
try: s = json.load(open(sys.argv[1]))
except Exception: s = {}
print(s.get("connections", 0), s.get("bytes_checked", 0), s.get("errors", 0), sep=",")' "$work/stats.json")
  echo "$1,$fds,$rss,$(metric detour_pipes_in_use),$(metric detour_connections_active),$cpu,$stats" >>"$csv"
}

python3 "$repo/test/soak/soak_load.py" drive --addr "$addr" --seconds "$duration" --holders "$holders" \
  --stats "$work/stats.json" >"$work/driver.log" 2>&1 &
driver_pid=$!
start=$SECONDS
next_sample=0
next_reload=$reload_every
reloads=0
flip=""
# Bounded: the driver stops its load at `duration` and gives up on its threads 120 s later.
limit=$((duration + 180))
while kill -0 "$driver_pid" 2>/dev/null; do
  now=$((SECONDS - start))
  kill -0 "$detourd_pid" 2>/dev/null || die "detourd died at ${now} s: $(tail -5 "$out/detourd.log")"
  ((now < limit)) || die "the load did not end within ${limit} s"
  if ((now >= next_sample)); then
    sample "$now"
    next_sample=$((next_sample + sample_every))
  fi
  if ((now >= next_reload && now < duration)); then
    flip=$([[ -z $flip ]] && echo 9 || echo "")
    config "$flip"
    kill -HUP "$detourd_pid"
    reloads=$((reloads + 1))
    next_reload=$((next_reload + reload_every))
  fi
  sleep 1
done
driver_status=0
wait "$driver_pid" || driver_status=$?
driver_pid=""
sample "$((SECONDS - start))"
cp "$work/driver.log" "$out/driver.log"
kill -0 "$detourd_pid" 2>/dev/null || die "detourd died: $(tail -5 "$out/detourd.log")"
reloads_ok=$(metric detour_config_reloads_total 'result="success"')
relayed_bytes=$(metric detour_bytes_total)
accepted=$(metric detour_connections_accepted_total)
reloads_failed=$(metric detour_config_reloads_total 'result="error"')

kill -TERM "$detourd_pid"
detourd_status=timeout
for _ in $(seq 150); do
  if ! kill -0 "$detourd_pid" 2>/dev/null; then
    detourd_status=0
    wait "$detourd_pid" || detourd_status=$?
    break
  fi
  sleep 0.1
done
detourd_pid_was=$detourd_pid
[[ $detourd_status == timeout ]] || detourd_pid=""

# Growth after the warm-up: the floor (lowest sample) of the last third of the samples taken after
# it while the load ran, against the floor of the first third. The floor is what a leak raises; the
# swings above it are the load's connections and pipes coming and going.
warmup=$((duration / 5))
((warmup >= 20)) || warmup=20
((warmup <= 300)) || warmup=300
growth=$(python3 - "$csv" "$warmup" "$duration" <<'EOF'
import csv, sys
rows = [r for r in csv.DictReader(open(sys.argv[1])) if int(sys.argv[2]) <= int(r["seconds"]) < int(sys.argv[3])]
third = max(1, len(rows) // 3)
for field in ("fds", "rss_kib"):
    if len(rows) < 2:
        print(f"{field} n/a n/a n/a")
        continue
    first = min(int(r[field]) for r in rows[:third])
    last = min(int(r[field]) for r in rows[-third:])
    print(f"{field} {first} {last} {100.0 * (last - first) / first:.1f}")
EOF
)

summary=$out/summary.txt
{
  echo "duration_s $duration"
  echo "holders $holders"
  echo "warmup_s $warmup"
  tail -1 "$work/driver.log"
  echo "detourd accepted=$accepted relayed_bytes=$relayed_bytes"
  echo "reloads sent=$reloads ok=$reloads_ok failed=$reloads_failed"
  echo "detourd_exit $detourd_status"
  echo "peak rss_kib $(cut -d, -f3 "$csv" | tail -n +2 | sort -n | tail -1), peak fds $(cut -d, -f2 "$csv" | tail -n +2 | sort -n | tail -1), cpu_s $(tail -1 "$csv" | cut -d, -f6)"
  echo "floor after warm-up (first third, last third, growth %):"
  echo "$growth"
} >"$summary"
cat "$summary" >&2

gnuplot <<EOF || log "gnuplot failed; the samples are in $csv"
set terminal pngcairo size 1200,900 font ",10" noenhanced
set output "$out/samples.png"
set datafile separator ","
set key autotitle columnhead left top
set xlabel "seconds"
set grid
set multiplot layout 2,2 title "detourd under the soak load ($duration s)"
set title "descriptors"; plot "$csv" using 1:2 with linespoints
set title "RSS (KiB)"; plot "$csv" using 1:3 with linespoints
set title "pipes in use, active connections"; plot "$csv" using 1:4 with linespoints, "" using 1:5 with linespoints
set title "CPU seconds (user + system)"; plot "$csv" using 1:6 with linespoints
unset multiplot
EOF

failures=()
((driver_status == 0)) || failures+=("the load found lost or corrupted bytes or failed connections (driver exit $driver_status): $(grep -m3 'error' "$work/driver.log" | tr '\n' ' ')")
((reloads_failed == 0 && reloads_ok == reloads)) || failures+=("reloads: $reloads sent, $reloads_ok ok, $reloads_failed failed")
[[ $detourd_status == 0 ]] || failures+=("detourd (pid $detourd_pid_was) did not stop cleanly on SIGTERM: $detourd_status")
while read -r field first last pct; do
  [[ $pct != n/a ]] || continue
  if python3 -c "import sys; sys.exit(0 if float(sys.argv[1]) > 5.0 else 1)" "$pct"; then
    failures+=("$field grew by $pct% after the warm-up ($first -> $last)")
  fi
done <<<"$growth"
if ((${#failures[@]})); then
  for f in "${failures[@]}"; do log "FAIL: $f"; done
  exit 1
fi
log "passed: $(tail -1 "$work/driver.log" | sed 's/^soak_load: //')"
