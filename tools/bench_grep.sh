#!/bin/bash
# urio-grep -c against grep -c in one run, page cache warm:
#   one 1 GiB log, urio-grep on 1 worker;
#   four 1 GiB logs, urio-grep on 2 workers (grep reads them one by one);
#   references: urio-grep on 1 worker over the four, and cat of one log
#   (what reading alone costs).
# Wall time rates make the rows; CPU time (user + sys) rates are reference
# rows, steadier on a shared machine. Medians of ROUNDS runs (default 5),
# interleaved; PATTERN sets the string (default status=503). Usage:
#   tools/bench_grep.sh [BUILD_DIR] [DATA_DIR]
# BUILD_DIR holds tools/urio-grep (default build-bench, built here
# Release if missing); DATA_DIR gets the logs (default /tmp/urio-grep-bench,
# kept between runs).
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$src/build-bench}
data=${2:-/tmp/urio-grep-bench}
rounds=${ROUNDS:-5}
pat=${PATTERN:-status=503}

if [ ! -x "$build/tools/urio-grep" ]; then
	cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=Release \
		-DURIO_TESTS=OFF >/dev/null
	cmake --build "$build" -j2 --target urio-grep >/dev/null
fi
ugrep=$build/tools/urio-grep

mkdir -p "$data"
# A web-service log: 1 line in ~4000 holds the pattern.
gen() {
	python3 - "$1" <<'PY'
import random, sys
r = random.Random(7)
lv = ['INFO'] * 90 + ['WARN'] * 8 + ['ERROR'] * 2
paths = ['/api/v1/items', '/api/v1/users', '/health', '/static/app.js']
st = [200] * 3000 + [404] * 600 + [500] * 399 + [503]
lines = []
for i in range(150000):
    lines.append("2026-11-29T%02d:%02d:%02d.%03dZ %-5s [worker-%d] req id=%d "
                 "path=%s/%d status=%d latency_ms=%d\n" % (
        r.randrange(24), r.randrange(60), r.randrange(60), r.randrange(1000),
        r.choice(lv), r.randrange(8), r.randrange(10**6), r.choice(paths),
        r.randrange(1000), r.choice(st), r.randrange(300)))
block = "".join(lines).encode()
with open(sys.argv[1], "wb") as f:
    n = 0
    while n < (1 << 30):
        f.write(block)
        n += len(block)
PY
}
for i in 1 2 3 4; do
	[ -s "$data/log$i" ] || gen "$data/log$i"
done
cat "$data"/log* >/dev/null # warm the page cache

# "wall cpu" seconds of one run of "$@" (cpu: user + sys). Output goes to
# a file: GNU grep stops at the first match when it writes to /dev/null.
t() {
	local TIMEFORMAT='%3R %3U %3S' x
	x=$( { time "$@" >"$data/out" 2>/dev/null; } 2>&1 )
	echo "$x" | awk '{ printf "%s:%s", $1, $2 + $3 }'
}
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

one=$data/log1
four="$data/log1 $data/log2 $data/log3 $data/log4"
[ "$($ugrep -c "$pat" "$one")" = "$(grep -c "$pat" "$one")" ] ||
	{ echo "counts differ" >&2; exit 1; }
declare -A r
for k in $(seq "$rounds"); do
	r[g1]+="$(t grep -c "$pat" "$one") "
	r[u1]+="$(t "$ugrep" -j1 -c "$pat" "$one") "
	r[g4]+="$(t grep -c "$pat" $four) "
	r[u4]+="$(t "$ugrep" -j2 -c "$pat" $four) "
	r[u41]+="$(t "$ugrep" -j1 -c "$pat" $four) "
	r[cat]+="$(t sh -c 'cat "$1" >/dev/null' sh "$one") "
done
size1=$(stat -c %s "$one")
# field 1 (wall) or 2 (cpu) of key's runs, median
med() { echo "${r[$1]}" | tr ' ' '\n' | grep . | cut -d: -f"$2" | median; }
row() { # name, bytes, urio key, blocking key, target, field
	local u g
	u=$(med "$3" "$6")
	g=$(med "$4" "$6")
	awk -v n="$1" -v b="$2" -v u="$u" -v g="$g" -v tg="$5" 'BEGIN {
		printf "| %s | %.2f GB/s | %.2f GB/s | %.2fx | %s |\n",
			n, b / u / 1e9, b / g / 1e9, g / u, tg }'
}
echo "pattern '$pat', medians of $rounds runs; load average: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "| benchmark | urio-grep | grep | ratio | target |"
echo "| --- | --- | --- | --- | --- |"
row "urio-grep -c vs grep -c, one 1 GiB log, 1 worker (wall)" "$size1" u1 g1 ">= 0.9x" 1
row "urio-grep -c vs grep -c, four 1 GiB logs, 2 workers (wall)" $((size1 * 4)) u4 g4 ">= 1.5x" 1
row "(ref) the same, one log, bytes per CPU second (user + sys)" "$size1" u1 g1 "" 2
row "(ref) the same, four logs, bytes per CPU second (user + sys)" $((size1 * 4)) u4 g4 "" 2
row "(ref) four logs: urio-grep on 2 workers vs on 1 (what the second CPU gave)" $((size1 * 4)) u4 u41 "" 1
row "(ref) one log: urio-grep -c vs cat (reading alone; wall)" "$size1" u1 cat "" 1
