#!/usr/bin/env bash
# The main job: the benchmark report, urio against blocking equivalents and
# peers, measured in one run on this machine. Installs what is missing,
# builds in build-bench/, runs every bench/ program and fio, prints the
# table and writes build-bench/results/report.md. URIO_BENCH_FILE picks
# the 1 GiB test file (default /var/tmp/urio-bench-1g, made if missing).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
bash tools/deps.sh build bench
build=$root/build-bench
out=$build/results
mkdir -p "$out"
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DURIO_BENCH=ON \
  -DURIO_TESTS=OFF -DURIO_TOOLS=OFF >/dev/null
cmake --build "$build" -j"$(nproc)" >/dev/null
export URIO_BENCH_FILE=${URIO_BENCH_FILE:-/var/tmp/urio-bench-1g}

for b in switch spawn nop fanout structured randread; do
  echo "running bench_$b ..." >&2
  "$build/bench/bench_$b" --benchmark_out="$out/$b.json" \
    --benchmark_out_format=json >"$out/$b.txt" 2>&1
done
echo "running rss_sleep ..." >&2
"$build/bench/rss_sleep" >"$out/rss.json"

# fio on the same file: the peer for O_DIRECT reads at iodepth 32, and a
# psync (blocking pread) run for reference.
echo "running fio ..." >&2
fio --name=direct --filename="$URIO_BENCH_FILE" --ioengine=io_uring --direct=1 \
  --rw=randread --bs=4k --iodepth=32 --runtime=10 --time_based \
  --output-format=json >"$out/fio_direct.json"
fio --name=warm --filename="$URIO_BENCH_FILE" --ioengine=psync --direct=0 --invalidate=0 \
  --rw=randread --bs=4k --runtime=5 --time_based \
  --output-format=json >"$out/fio_psync.json"

python3 tools/bench_report.py "$out" | tee "$out/report.md"
