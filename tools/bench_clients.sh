#!/usr/bin/env bash
# The clients under load, each against a real server it starts itself on
# loopback (redis-server, PostgreSQL, nginx), 1000 concurrent requesters
# over a pool of 16 connections against the same library's blocking client
# on a thread per requester, requests/s and p99 in one run:
#   bench/redis-load  urio-redis pool vs hiredis' redisCommand; pipelining
#                     of 100 commands vs one at a time
#   bench/pg-load     urio-pg (pipelined mux, and a lease per query) vs
#                     libpq's PQexecParams (a connection per thread, and 16
#                     shared)
#   bench/http-load   urio-http session vs blocking sockets + http-parser
# Prints one markdown table (bench/clients_report.py) and keeps each
# program's output in DIR (default build-bench/results). Usage:
#   tools/bench_clients.sh [BUILD_DIR] [DIR]
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$src/build-bench}
out=${2:-$build/results}
mkdir -p "$out"
if [ ! -x "$build/bench/redis-load" ] || [ ! -x "$build/bench/pg-load" ] ||
	[ ! -x "$build/bench/http-load" ]; then
	cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=Release -DURIO_BENCH=ON \
		-DURIO_TESTS=OFF >/dev/null
	cmake --build "$build" -j"$(nproc)" --target redis-load pg-load \
		http-load >/dev/null
fi
# 1000 threads and connections on each side of the blocking clients
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
status=0
run() { # name, command...
	local name=$1
	shift
	echo "bench_clients.sh: running $name" >&2
	if ! timeout 600 "$@" >"$out/clients-$name.txt" 2>&1; then
		echo "bench_clients.sh: $name failed; see $out/clients-$name.txt" >&2
		status=1
	fi
}
run redis "$build/bench/redis-load" --requesters 1000 --pool 16
run pg "$build/bench/pg-load" 1000 16 5 0 umpbc
run http "$build/bench/http-load" 5 1000 16
python3 "$src/bench/clients_report.py" "$out"
exit $status
