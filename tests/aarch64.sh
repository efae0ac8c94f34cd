#!/usr/bin/env bash
# Every C file of the library compiles for aarch64 (syntax and types, with
# clang's aarch64 target and Debian's arm64 cross headers): x86-only code
# such as the PAUSE builtin must not reach a shared path.
# Usage: aarch64.sh SRC_DIR CLANG. Exit 77 (skip) without the headers
# (tools/deps.sh test installs libc6-dev-arm64-cross).
set -euo pipefail
src=$1 clang=$2
sysinc=/usr/aarch64-linux-gnu/include
[ -d "$sysinc" ] || { echo "no $sysinc: skipped"; exit 77; }
fail=0
for f in "$src"/runtime/*.c "$src"/io/*.c "$src"/sync/*.c; do
  "$clang" --target=aarch64-linux-gnu -fsyntax-only -std=gnu11 -D_GNU_SOURCE \
    -Wall -Wextra -Wno-unused-parameter -Werror \
    -I"$src/runtime" -I"$src/io" -I"$src/sync" \
    -isystem "$sysinc" -idirafter /usr/include "$f" || { echo "FAILED: $f"; fail=1; }
done
exit $fail
