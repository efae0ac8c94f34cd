#!/usr/bin/env bash
# The library carries every USDT probe (provider urio) in its ELF notes,
# where perf, bpftrace and SystemTap find them. Usage: usdt.sh LIBURIO
set -euo pipefail
notes=$(readelf -n "$1")
for p in task_spawn task_switch task_finish op_submit op_complete \
         worker_park worker_wake steal; do
  grep -A1 'Provider: urio' <<<"$notes" | grep -q "Name: $p\$" ||
    { echo "probe urio:$p missing from $1"; exit 1; }
done
echo "usdt: ok"
