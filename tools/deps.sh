#!/usr/bin/env bash
# Installs the Debian packages urio needs, skipping what is installed.
# Usage: tools/deps.sh [build|test|bench|servers]...   (build is always included)
set -euo pipefail
pkgs=(build-essential cmake pkg-config liburing-dev libjemalloc-dev systemtap-sdt-dev)
# the client libraries' dependencies and the real servers their tests and
# benchmarks start (io/redis, io/pg, io/http)
clients=(libhiredis-dev libpq-dev redis-server postgresql nginx-light
  libhttp-parser-dev)
for want in "$@"; do
  case "$want" in
    build) ;;
    test) pkgs+=(clang libclang-rt-14-dev valgrind libhttp-parser-dev
      libc6-dev-arm64-cross spin "${clients[@]}") ;;
    bench) pkgs+=(g++ libbenchmark-dev libboost-context-dev fio "${clients[@]}") ;;
    servers) pkgs+=(libhttp-parser-dev libuv1-dev wrk nginx-light gnuplot-nox util-linux) ;;
    *) echo "deps.sh: unknown set '$want'" >&2; exit 2 ;;
  esac
done
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "deps.sh: installing ${missing[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi
