#!/usr/bin/env bash
# Runs the installed-to-be urio-echo: --help, bad arguments, echo over a
# few connections (bash's /dev/tcp, no other client needed), SIGTERM with
# a connection open drains it and exits 0, SIGINT too.
# Usage: echo_tool.sh PATH_TO_URIO_ECHO WORKERS
set -euo pipefail
echo_bin=$1 workers=$2
out=$(mktemp) err=$(mktemp)
trap 'rm -f "$out" "$err"; [ -n "${pid:-}" ] && kill -9 "$pid" 2>/dev/null || true' EXIT

"$echo_bin" --help | grep -q -- --workers
if "$echo_bin" --port nope 2>/dev/null; then echo "bad port accepted"; exit 1; fi
if "$echo_bin" --workers 0 2>/dev/null; then echo "0 workers accepted"; exit 1; fi

start() { # starts the server on a free port; sets pid and port
  "$echo_bin" --port 0 --workers "$workers" --grace 200 >"$out" 2>"$err" &
  pid=$!
  for _ in $(seq 100); do
    port=$(sed -n 's/.*:\([0-9]*\),.*/\1/p' "$out")
    [ -n "$port" ] && return 0
    sleep 0.1
  done
  echo "urio-echo did not start"; cat "$err"; exit 1
}

# waits (bounded) for the server to exit; returns its status
reap() {
  for _ in $(seq 100); do
    kill -0 "$pid" 2>/dev/null || { wait "$pid"; return $?; }
    sleep 0.1
  done
  echo "urio-echo did not exit"; cat "$err"; return 1
}

for sig in TERM INT; do
  start
  for i in 1 2 3; do
    exec 3<>"/dev/tcp/127.0.0.1/$port"
    msg="hello $i from bash"
    printf '%s' "$msg" >&3
    IFS= read -r -t 10 -N ${#msg} got <&3
    [ "$got" = "$msg" ] || { echo "echoed '$got', sent '$msg'"; exit 1; }
    exec 3>&-
  done
  exec 4<>"/dev/tcp/127.0.0.1/$port" # left open: the drain cancels it
  printf 'x' >&4
  IFS= read -r -t 10 -N 1 got <&4
  kill -"$sig" "$pid"
  status=0; reap || status=$?
  [ "$status" = 0 ] || { echo "SIG$sig: exit status $status"; cat "$err"; exit 1; }
  # the open connection was closed by the drain: EOF
  if IFS= read -r -t 10 -N 1 got <&4; then echo "read '$got' after drain"; exit 1; fi
  exec 4>&-
  # the closed ones may still be finishing: 1 or more
  grep -q "draining [1-4] connection" "$err" || { cat "$err"; exit 1; }
  grep -q "4 connection(s) served" "$err" || { cat "$err"; exit 1; }
  pid=
done
echo "urio-echo: ok"
