#!/usr/bin/env bash
# The main job: the benchmark report, urio against blocking equivalents and
# peers, all measured in one run on this machine.
#
# Installs what is missing (tools/deps.sh), builds a Release tree in
# build-bench/, runs every bench/ program (JSON into build-bench/results/),
# fio on the same 1 GiB file, and rss_sleep (RSS of 100k sleeping tasks),
# then prints one markdown table and writes it to
# build-bench/results/report.md. Takes ~5 minutes on 2 CPUs.
#
# Environment:
#   URIO_BENCH_FILE  the 1 GiB test file (default /var/tmp/urio-bench-1g,
#                    written on first use)
#   URIO_BENCH_REPS  repetitions of each benchmark; the report takes the
#                    median (default 3)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=$root/build-bench
out=$build/results
reps=${URIO_BENCH_REPS:-3}
export URIO_BENCH_FILE=${URIO_BENCH_FILE:-/var/tmp/urio-bench-1g}
start=$SECONDS

say() { printf 'bench.sh: %s\n' "$*" >&2; }

bash "$root/tools/deps.sh" build bench

say "building $build (Release)"
mkdir -p "$build"
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DURIO_BENCH=ON \
	-DURIO_TESTS=OFF -DURIO_TOOLS=ON >"$build/configure.log" 2>&1 ||
	{ cat "$build/configure.log" >&2; exit 1; }
cmake --build "$build" -j"$(nproc)" >"$build/build.log" 2>&1 ||
	{ tail -50 "$build/build.log" >&2; exit 1; }

mkdir -p "$out"
rm -f "$out"/*.json "$out"/*.txt "$out"/report.md

# Other work on the machine shows up in every number: say so up front.
read -r load _ </proc/loadavg
if awk -v l="$load" 'BEGIN { exit !(l > 0.5) }'; then
	say "warning: load average is $load; results may be noisy"
fi

failed=()
# bench_randread goes before fio: it writes the test file when missing.
# Its O_DIRECT runs are left for the rounds below.
for b in switch spawn nop fanout structured offload sync pool stream randread; do
	say "running bench_$b ($reps repetitions)"
	filter=.
	[ "$b" = randread ] && filter=-direct
	# interleaved: the host drifts, and a program's ratios compare its
	# own benchmarks, so none of them gets all the good minutes
	if ! "$build/bench/bench_$b" --benchmark_repetitions="$reps" \
		--benchmark_enable_random_interleaving=true \
		--benchmark_report_aggregates_only=true \
		--benchmark_filter="$filter" \
		--benchmark_out="$out/$b.json" --benchmark_out_format=json \
		>"$out/$b.txt" 2>&1; then
		say "bench_$b failed; see $out/$b.txt"
		failed+=("bench_$b")
	fi
done

say "running rss_sleep (100k sleeping tasks)"
if ! "$build/bench/rss_sleep" >"$out/rss.json" 2>"$out/rss.txt"; then
	say "rss_sleep failed; see $out/rss.txt"
	failed+=(rss_sleep)
fi

# O_DIRECT reads: urio (and raw liburing, pread) against fio at iodepth 32
# on the same file. The VM's disk drifts by tens of percent within
# minutes, so they take turns: $reps rounds of fio then bench_randread's
# O_DIRECT runs, each from an uncached file; the report takes medians.
# --norandommap draws offsets with replacement, as the benchmarks do.
if [ -f "$URIO_BENCH_FILE" ]; then
	for i in $(seq "$reps"); do
		say "round $i/$reps: fio io_uring O_DIRECT iodepth 32 (5 s), then urio"
		python3 -c 'import os, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)' "$URIO_BENCH_FILE"
		fio --name=direct --filename="$URIO_BENCH_FILE" \
			--ioengine=io_uring --direct=1 --rw=randread --bs=4k \
			--iodepth=32 --norandommap --runtime=5 --time_based \
			--output-format=json >"$out/fio_direct.$i.json" \
			2>"$out/fio_direct.$i.txt" || failed+=(fio_direct)
		"$build/bench/bench_randread" --benchmark_filter=direct \
			--benchmark_out="$out/randread.$i.json" \
			--benchmark_out_format=json >"$out/randread.$i.txt" 2>&1 ||
			failed+=("bench_randread O_DIRECT")
	done
say "running fio psync, page cache warm (5 s)"
	fio --name=warm --filename="$URIO_BENCH_FILE" --ioengine=psync \
		--direct=0 --pre_read=1 --invalidate=0 --rw=randread --bs=4k \
		--norandommap --runtime=5 --time_based --output-format=json \
		>"$out/fio_psync.json" 2>"$out/fio_psync.txt" ||
		failed+=(fio_psync)
else
	say "no $URIO_BENCH_FILE: skipping fio"
	failed+=(fio)
fi

python3 "$root/bench/report.py" "$out" | tee "$out/report.md"

# urio-grep -c vs grep -c, page cache warm: a pattern grep finds slowly
# (its last byte is a common digit) and one it finds fast.
for pat in status=503 ERROR; do
	say "running tools/bench_grep.sh, pattern $pat"
	if { echo; echo "## urio-grep, pattern $pat"; echo
	     PATTERN=$pat ROUNDS=$reps bash "$root/tools/bench_grep.sh" "$build"; } \
		>"$out/grep-$pat.md" 2>"$out/grep-$pat.txt"; then
		tee -a "$out/report.md" <"$out/grep-$pat.md"
	else
		say "bench_grep.sh failed; see $out/grep-$pat.txt"
		failed+=("bench_grep $pat")
	fi
done

# Servers under load: urio-echo and urio-httpd against raw liburing, epoll,
# threads and nginx (its own table and plot; see tools/bench_servers.sh).
if bash "$root/tools/bench_servers.sh" >"$out/servers.txt" 2>&1; then
	{ echo; echo "## Servers under load"; echo
	  cat "$root/build-servers/results/servers.md"; } | tee -a "$out/report.md"
else
	say "bench_servers.sh failed; see $out/servers.txt"
	failed+=(bench_servers)
fi
# Clients on real servers (Redis, PostgreSQL, nginx), 1000 requesters:
# urio against the same libraries' blocking clients (tools/bench_clients.sh).
if { echo; echo "## Clients under load"; echo
     bash "$root/tools/bench_clients.sh" "$build" "$out"; } \
	>"$out/clients.md" 2>"$out/clients.txt"; then
	tee -a "$out/report.md" <"$out/clients.md"
else
	say "bench_clients.sh failed; see $out/clients.txt"
	failed+=(bench_clients)
fi
say "done in $((SECONDS - start)) s; results in $out"
if [ ${#failed[@]} -gt 0 ]; then
	say "failed: ${failed[*]}"
	exit 1
fi
