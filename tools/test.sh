#!/usr/bin/env bash
# The whole test suite on a fresh Debian 12 machine: installs what is
# missing, then builds and runs ctest four times: a release build, the
# same with link-time optimisation (as distributions build packages), an
# ASan+UBSan build, and a TSan build with clang (GCC 12's TSan reports
# false races on fences); the two sanitizer builds also have the fault
# injection points (-DURIO_FAULT=ON, tests/fault.c, tests/ring_ladder.c).
# URIO_SOAK=1 also registers the long soaks.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/deps.sh build test
jobs=$(nproc)
soak=OFF; [ "${URIO_SOAK:-0}" = 1 ] && soak=ON
skip=() # ctest arguments leaving out suites for one build
run() { # name, cmake args...
  local dir=build-$1; shift
  echo "=== $dir"
  cmake -S . -B "$dir" -DURIO_SOAK=$soak "$@" >/dev/null
  cmake --build "$dir" -j"$jobs" >/dev/null
  (cd "$dir" && ctest --output-on-failure -j"$jobs" "${skip[@]}")
  skip=()
}
run release -DCMAKE_BUILD_TYPE=RelWithDebInfo
# LTO checks the runtime's code generation: what does not depend on it
# (the models, cross builds, install, valgrind, the long fuzz and crash
# runs, the clients against their servers) ran above.
skip=(-LE model -E '^(fuzz|txn|c_aarch64_builds|install_consumer|shutdown_valgrind|redis|pg|http_client)')
run lto -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_INTERPROCEDURAL_OPTIMIZATION=ON
# the sanitizer builds also carry the fault injection points (fault.c);
# they leave out the poll-backend runs of the longest suites whose poll
# path the release build ran (the transfers against PostgreSQL, grep's
# throughput run, and under TSan the fuzz driver)
skip=(-E '^(pg_txn_poll|urio_grep_poll)$')
run asan -DCMAKE_BUILD_TYPE=Debug -DURIO_SANITIZE=address -DURIO_FAULT=ON
skip=(-E '^(pg_txn_poll|urio_grep_poll|fuzz_poll)$')
run tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DURIO_SANITIZE=thread -DURIO_FAULT=ON \
  -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++
