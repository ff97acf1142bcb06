#!/usr/bin/env bash
# Install every Debian package that faultline's build, tests and demo need.
# Idempotent: packages already present are left alone; safe to run twice.
set -euo pipefail

PKGS=(
  # build
  make gcc clang llvm libbpf-dev bpftool libelf-dev zlib1g-dev
  # libFuzzer and sanitizer runtimes for clang (only recommended by clang)
  libclang-rt-14-dev
  libsqlite3-dev libjansson-dev pkg-config
  # HTTP/2 header blocks: libnghttp2's HPACK inflater
  libnghttp2-dev
  # servers and clients used by the integration tests and the demo
  nginx-light postgresql postgresql-client redis-server redis-tools curl
  python3 python3-psycopg2 python3-redis iproute2 procps sqlite3
  # MySQL: MariaDB server and client, PyMySQL, libmariadb for the
  # prepared-statement client tests/integration/myprep.c
  mariadb-server mariadb-client python3-pymysql libmariadb-dev
  # gRPC test peers (server and client, no code generation)
  python3-grpcio
  # the estate's integration suite (tools/estate/tests)
  python3-pytest
  # TLS test peers: certificates (openssl), node (OpenSSL built in)
  openssl nodejs
  # gatectl -o dot is checked with Graphviz; setpriv (util-linux) drops privilege
  graphviz util-linux
  # the agent's /metrics (libmicrohttpd); gatectl --prometheus (libcurl);
  # gatectl graph -o svg|html (libgvc); the Prometheus the tests scrape with;
  # headless Chromium that checks the HTML graph draws; YAML and systemd
  # checks of tools/deploy
  libmicrohttpd-dev libcurl4-openssl-dev graphviz-dev prometheus chromium
  python3-yaml systemd man-db bsdextrautils
  # gatectl deep: per-edge faults through nftables (libnftables)
  nftables libnftables-dev
  # the gate: JUnit XML written with libxml2, checked by xmllint and
  # python3-junitparser (a real JUnit consumer)
  libxml2-dev libxml2-utils python3-junitparser
  # make bench: load generators, timing, the L4-only peer tracer, profiling
  wrk hyperfine libbpf-tools linux-perf
  # make soak: the plot of RSS, fds, store size and CPU
  gnuplot-nox
)

if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: must run as root (try: sudo $0)" >&2
  exit 2
fi

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PKGS[@]} packages present"
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# Services must not be started by the package scripts: tests start their own.
policy=/usr/sbin/policy-rc.d
created_policy=0
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' >"$policy"; chmod +x "$policy"; created_policy=1
fi
trap '[ $created_policy -eq 1 ] && rm -f "$policy"' EXIT
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install-deps: done"
