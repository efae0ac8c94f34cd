#!/usr/bin/env bash
# Servers under load, all measured in one run on 127.0.0.1 with the server
# pinned to one CPU and the load to another (taskset):
#   echo, 64 B ping-pong at 10, 100 and 1000 connections (urio-load):
#     urio-echo (1 worker) vs echo-uring (the raw liburing floor), echo-epoll,
#     echo-uv (libuv) and echo-threads (blocking, thread per connection); as references,
#     echo-uring --oneshot (urio's kernel path without urio: a plain recv
#     per message), 64 B pipelined streaming (depth 16) at 100
#     connections, and a fixed offered load of 5000 requests/s at 100
#     connections (CPU per request at equal work)
#   HTTP, a fixed 200 at 10, 100 and 1000 connections (wrk, 1 thread):
#     urio-httpd (1 worker) vs nginx (1 worker, `return 200`, access log
#     off; its own temporary prefix and config) and http-threads; and
#     urio-httpd vs nginx at a fixed 5000 requests/s (urio-load --http)
# Each point reports requests/s, p99 latency and the server's CPU time per
# request (utime + stime from /proc/PID/stat over the measured window: the
# steadiest figure on a shared machine). The servers of a group run side by
# side and take turns at each connection count, in rounds, so drift of the
# host is spread over all of them; the report takes each point's median.
#
# Writes build-servers/results/servers.md (the table), servers.tsv (every
# run), servers-median.tsv (the medians) and servers.png (requests/s and
# p99 against connections, gnuplot),
# and prints the table. About 5 minutes on a busy 2-CPU machine.
#
# Environment:
#   URIO_SERVERS_SECONDS  measured seconds per point (default 2)
#   URIO_SERVERS_WRK_SECONDS  the same for wrk's points (default 5)
#   URIO_SERVERS_ROUNDS   rounds; each point's median is reported (default 2)
#   URIO_SERVERS_CONNS    connection counts (default "10 100 1000")
#   URIO_SERVERS_CPUS     "SERVER_CPU LOAD_CPU" (default: the first two CPUs
#                         of this process's affinity mask)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=$root/build-servers
out=$build/results
secs=${URIO_SERVERS_SECONDS:-2}
# wrk has no warm-up: its connections are made inside the measured window,
# so its points run longer for set-up to weigh less at 1000 connections
wsecs=${URIO_SERVERS_WRK_SECONDS:-5}
rounds=${URIO_SERVERS_ROUNDS:-2}
conns_list=${URIO_SERVERS_CONNS:-"10 100 1000"}
start=$SECONDS

say() { printf 'bench_servers.sh: %s\n' "$*" >&2; }

bash "$root/tools/deps.sh" build bench servers

# --- CPUs, fd limit -----------------------------------------------------
read -r -a cpus <<<"${URIO_SERVERS_CPUS:-}"
if [ ${#cpus[@]} -lt 2 ]; then
	mapfile -t cpus < <(python3 -c 'import os
for c in sorted(os.sched_getaffinity(0))[:2]: print(c)')
fi
if [ ${#cpus[@]} -lt 2 ]; then
	say "one CPU only: server and load share it"
	cpus=("${cpus[0]}" "${cpus[0]}")
fi
scpu=${cpus[0]} lcpu=${cpus[1]}
# 1000 connections: both ends of each in this process tree
hard=$(ulimit -Hn)
if [ "$hard" != unlimited ] && [ "$hard" -lt 4096 ]; then
	say "the hard fd limit is $hard; 1000 connections need ~2100"
fi
ulimit -n "$hard" 2>/dev/null || ulimit -n 65536 2>/dev/null || true

# --- build ----------------------------------------------------------------
say "building $build (Release)"
mkdir -p "$build"
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DURIO_BENCH=ON \
	-DURIO_TESTS=OFF -DURIO_TOOLS=ON >"$build/configure.log" 2>&1 ||
	{ cat "$build/configure.log" >&2; exit 1; }
cmake --build "$build" -j"$(nproc)" --target urio-load echo-uring \
	echo-epoll echo-uv echo-threads http-threads urio-echo urio-httpd \
	>"$build/build.log" 2>&1 || { tail -50 "$build/build.log" >&2; exit 1; }
mkdir -p "$out"
rm -f "$out"/servers.*

read -r load _ </proc/loadavg
if awk -v l="$load" 'BEGIN { exit !(l > 0.5) }'; then
	say "warning: load average is $load; results may be noisy"
fi

# --- servers: started here, stopped on every exit path --------------------
tmp=$(mktemp -d /tmp/urio-bench-servers.XXXXXX)
declare -A pid_of=() port_of=()
cleanup() {
	for name in "${!pid_of[@]}"; do
		kill -TERM "${pid_of[$name]}" 2>/dev/null || true
	done
	for name in "${!pid_of[@]}"; do
		local p=${pid_of[$name]}
		for _ in $(seq 100); do
			kill -0 "$p" 2>/dev/null || break
			sleep 0.05
		done
		kill -KILL "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
	pid_of=()
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
	python3 -c 'import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Waits (bounded) until 127.0.0.1:$1 accepts.
wait_port() {
	for _ in $(seq 200); do
		if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then
			return 0
		fi
		sleep 0.05
	done
	return 1
}

# start NAME CMD...: runs CMD pinned to the server CPU; @PORT@ in its
# arguments becomes a free port.
start_server() {
	local name=$1 port
	shift
	port=$(free_port)
	local args=("${@//@PORT@/$port}")
	taskset -c "$scpu" "${args[@]}" >"$tmp/$name.out" 2>&1 &
	pid_of[$name]=$!
	port_of[$name]=$port
	if ! wait_port "$port"; then
		say "$name did not start:"
		cat "$tmp/$name.out" >&2
		exit 1
	fi
}

stop_server() {
	local p=${pid_of[$1]}
	kill -TERM "$p" 2>/dev/null || true
	local st=0
	wait "$p" || st=$?
	unset "pid_of[$1]"
	[ "$st" -eq 0 ] || say "$1 exited with status $st"
}

# nginx: 1 worker, `return 200` with urio-httpd's body, access log off, its
# own prefix; returns the worker's pid in nginx_worker.
start_nginx() {
	local port
	port=$(free_port)
	mkdir -p "$tmp/nginx"
	cat >"$tmp/nginx/nginx.conf" <<EOF
worker_processes 1;
daemon off;
pid $tmp/nginx/nginx.pid;
error_log $tmp/nginx/error.log warn;
worker_rlimit_nofile 65536;
events { worker_connections 8192; }
http {
	access_log off;
	keepalive_requests 100000000;
	keepalive_timeout 60s;
	client_body_temp_path $tmp/nginx/body;
	proxy_temp_path $tmp/nginx/proxy;
	fastcgi_temp_path $tmp/nginx/fastcgi;
	uwsgi_temp_path $tmp/nginx/uwsgi;
	scgi_temp_path $tmp/nginx/scgi;
	server {
		listen 127.0.0.1:$port;
		location / { return 200 "Hello, World!"; }
	}
}
EOF
	taskset -c "$scpu" nginx -p "$tmp/nginx" -e "$tmp/nginx/error.log" \
		-c "$tmp/nginx/nginx.conf" >"$tmp/nginx.out" 2>&1 &
	pid_of[nginx]=$!
	port_of[nginx]=$port
	if ! wait_port "$port"; then
		say "nginx did not start:"
		cat "$tmp/nginx.out" "$tmp/nginx/error.log" >&2 || true
		exit 1
	fi
	nginx_worker=
	for _ in $(seq 100); do
		nginx_worker=$(pgrep -P "${pid_of[nginx]}" | head -1 || true)
		[ -n "$nginx_worker" ] && break
		sleep 0.05
	done
	[ -n "$nginx_worker" ] || { say "no nginx worker"; exit 1; }
}

cpu_ticks() { # utime + stime of $1, in clock ticks
	awk '{ sub(/.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"
}

tsv=$out/servers.tsv
printf 'group\tserver\tconns\trps\tp50_us\tp99_us\tcpu_us\n' >"$tsv"

# echo_point SERVER CONNS DEPTH GROUP [CPU_PID [URIO-LOAD ARGS...]]: one
# urio-load run.
echo_point() {
	local name=$1 c=$2 depth=$3 group=$4 cpu_pid=${5:-${pid_of[$1]}} line
	shift 5 || shift $#
	line=$(taskset -c "$lcpu" timeout $((secs + 60)) "$build/bench/urio-load" \
		--port "${port_of[$name]}" --conns "$c" --depth "$depth" \
		--size 64 --seconds "$secs" --warmup 0.5 --pid "$cpu_pid" "$@" |
		tail -1) || { say "urio-load failed against $name at $c"; return 0; }
	say "$group $name c=$c: $line"
	awk -v g="$group" -v s="$name" -v c="$c" '{
		for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
		printf "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", g, s, c, v["rps"],
			v["p50_us"], v["p99_us"], v["cpu_us"]
	}' <<<"$line" >>"$tsv"
}

# wrk's latency figure (e.g. 1.23ms) in microseconds
to_us() {
	awk '{ v = $1 + 0; u = $1; sub(/^[0-9.]+/, "", u)
		f = u == "us" ? 1 : u == "ms" ? 1000 : u == "s" ? 1e6 : 1
		printf "%.1f", v * f }' <<<"$1"
}

# http_point SERVER CONNS CPU_PID: one wrk run (1 thread). wrk's own CPU
# per request goes in group "wrk": when wrk is the bottleneck, the servers'
# requests/s differ by what each costs wrk's CPU.
http_point() {
	local name=$1 c=$2 cpu_pid=$3 t0 t1 res wrk_cpu TIMEFORMAT='%U %S'
	t0=$(cpu_ticks "$cpu_pid")
	{ wrk_cpu=$( { time taskset -c "$lcpu" timeout $((wsecs + 60)) wrk \
		-t1 -c"$c" -d"${wsecs}s" --latency \
		"http://127.0.0.1:${port_of[$name]}/" >"$tmp/wrk.out"; } 2>&1); } ||
		{ say "wrk failed against $name at $c"; return 0; }
	res=$(<"$tmp/wrk.out")
	t1=$(cpu_ticks "$cpu_pid")
	local rps reqs p50 p99 hz
	hz=$(getconf CLK_TCK)
	rps=$(awk '/^Requests\/sec:/ { printf "%.0f", $2 }' <<<"$res")
	reqs=$(awk '/requests in/ { print $1 }' <<<"$res")
	p50=$(to_us "$(awk '$1 == "50%" { print $2 }' <<<"$res")")
	p99=$(to_us "$(awk '$1 == "99%" { print $2 }' <<<"$res")")
	local cpu
	cpu=$(awk -v a="$t0" -v b="$t1" -v n="$reqs" -v hz="$hz" \
		'BEGIN { printf "%.3f", (n > 0) ? (b - a) / hz * 1e6 / n : -1 }')
	say "http $name c=$c: $rps requests/s, p99 $p99 us, CPU $cpu us/request"
	printf 'http\t%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$c" "$rps" "$p50" \
		"$p99" "$cpu" >>"$tsv"
	awk -v s="$name" -v c="$c" -v n="$reqs" -v t="$wrk_cpu" 'BEGIN {
		split(t, u, " "); if (n > 0) printf "wrk\t%s\t%s\t\t\t\t%.3f\n",
			s, c, (u[1] + u[2]) * 1e6 / n }' >>"$tsv"
	if grep -q "Socket errors" <<<"$res"; then
		say "  wrk: $(grep 'Socket errors' <<<"$res")"
	fi
}

# --- echo -------------------------------------------------------------------
say "echo: server on CPU $scpu, urio-load on CPU $lcpu, ${secs}s per point"
start_server urio-echo "$build/tools/urio-echo" --port @PORT@ --workers 1
start_server echo-uring "$build/bench/echo-uring" @PORT@
start_server echo-epoll "$build/bench/echo-epoll" @PORT@
start_server echo-uv "$build/bench/echo-uv" @PORT@
start_server echo-threads "$build/bench/echo-threads" @PORT@
start_server echo-uring-1shot "$build/bench/echo-uring" --oneshot @PORT@
echo_servers=(urio-echo echo-uring echo-epoll echo-uv echo-threads echo-uring-1shot)
for round in $(seq "$rounds"); do
	for c in $conns_list; do
		for s in "${echo_servers[@]}"; do
			echo_point "$s" "$c" 1 echo
		done
	done
	for s in "${echo_servers[@]}"; do
		echo_point "$s" 100 16 stream
	done
	for s in urio-echo echo-uring echo-epoll echo-uv; do
		echo_point "$s" 100 1 rate "${pid_of[$s]}" --rate 5000
	done
done
for s in "${echo_servers[@]}"; do
	stop_server "$s"
done

# --- HTTP -------------------------------------------------------------------
say "http: server on CPU $scpu, wrk -t1 on CPU $lcpu, ${wsecs}s per point"
start_server urio-httpd "$build/tools/urio-httpd" --port @PORT@ --workers 1
start_server http-threads "$build/bench/http-threads" @PORT@
start_nginx
for round in $(seq "$rounds"); do
	for c in $conns_list; do
		http_point urio-httpd "$c" "${pid_of[urio-httpd]}"
		http_point nginx "$c" "$nginx_worker"
		http_point http-threads "$c" "${pid_of[http-threads]}"
	done
	echo_point urio-httpd 100 1 http-rate "${pid_of[urio-httpd]}" \
		--rate 5000 --http /
	echo_point nginx 100 1 http-rate "$nginx_worker" --rate 5000 --http /
done
for s in urio-httpd nginx http-threads; do
	stop_server "$s"
done

# --- report -----------------------------------------------------------------
python3 "$root/bench/servers_report.py" "$tsv" "$out/servers.md" \
	"$(date -u +%F), load average $load at the start, server on CPU $scpu, load on CPU $lcpu, medians of $rounds rounds of ${secs}s per point (wrk: ${wsecs}s)" \
	"$out/servers-median.tsv"
cat "$out/servers.md"
if command -v gnuplot >/dev/null; then
	gnuplot -e "tsv='$out/servers-median.tsv'; png='$out/servers.png'" \
		"$root/bench/servers.gp" &&
		say "plot: $out/servers.png"
fi
say "done in $((SECONDS - start)) s"
