#!/usr/bin/env bash
# Installs every Debian 12 package detour needs to build, run and test. Idempotent: apt-get runs only
# when something is missing. Must run as root (or via sudo).
set -euo pipefail

packages=(
  # build
  build-essential cmake ninja-build ccache pkg-config
  libboost1.81-dev libnftnl-dev libmnl-dev libfmt-dev libspdlog-dev libyaml-cpp-dev libcli11-dev
  libsystemd-dev catch2 prometheus-cpp-dev libcap-dev
  # the man page's source is scdoc; man renders it in a test, bash-completion runs the completion
  scdoc man-db bash-completion
  # scripts/package.sh: CPack's .deb needs dpkg-shlibdeps (dpkg-dev) and file; lintian checks it
  dpkg-dev file lintian
  # scripts/image.sh: the image's root file system, its OCI layout, and inspecting the archive
  mmdebstrap umoci skopeo
  # run and test: nft to inspect rules, iproute2 for namespaces, real peers started by the tests
  nftables iproute2 netcat-openbsd python3 curl
  # upstream proxies the upstream integration tests start (setpriv, from util-linux, runs them
  # under their own user ids); Google Benchmark for route_bench; clang for the libFuzzer targets
  microsocks tinyproxy util-linux libbenchmark-dev clang libclang-rt-14-dev
  # promtool (package prometheus) checks /metrics; headless Chromium loads the status page
  prometheus chromium
  # systemd-analyze verifies packaging/detourd.service, systemd-sysusers reads detour.sysusers,
  # systemd-notify sends to the tests' notify socket (nothing is started as a service)
  systemd
  # scripts/format.sh and scripts/tidy.sh; the version is pinned because another one formats and
  # checks differently
  clang-format-14 clang-tidy-14
  # scripts/bench.sh: the peers it measures detourd against, its load generators and its chart;
  # nginx and HAProxy are also the PROXY protocol receivers of upstream/proxy_protocol_test
  haproxy redsocks nginx-light iperf3 wrk gnuplot-nox
)

# deploy/kubernetes/validate checks the manifests with node. A node from elsewhere (a NodeSource
# package brings its own npm) is kept; only without one are Debian's nodejs and npm installed.
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  packages+=(nodejs npm)
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  if [[ $(id -u) -ne 0 ]]; then
    echo "install-deps: missing packages: ${missing[*]}; run as root to install them" >&2
    exit 1
  fi
  echo "install-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # The tests and the bench start nginx, haproxy, tinyproxy... themselves, inside their own network
  # namespaces; keep the packages from starting them as services on the host. policy-rc.d is
  # Debian's switch for that, and only ours is removed afterwards.
  policy=/usr/sbin/policy-rc.d
  ours=""
  if [[ ! -e $policy ]]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && ours=1
  fi
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null || status=$?
  [[ -n $ours ]] && rm -f "$policy"
  [[ -n ${status:-} ]] && exit "$status"
fi

# The manifest validator's modules, exactly as package-lock.json pins them; again only when missing.
validate="$(dirname "$(readlink -f "$0")")/../deploy/kubernetes/validate"
if ! cmp -s "$validate/package-lock.json" "$validate/node_modules/.installed-lock.json" 2>/dev/null; then
  (cd "$validate" && npm ci --no-audit --no-fund --loglevel=error &&
    cp package-lock.json node_modules/.installed-lock.json)
fi
