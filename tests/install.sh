#!/usr/bin/env bash
# Installs the build to a temporary prefix and builds the README example
# against it with pkg-config (as C, and the headers as C++) and with
# find_package(urio); then runs them, and the installed urio-ps. Usage:
# install.sh SRC_DIR BUILD_DIR
set -euo pipefail
src=$1 build=$2
prefix=$(mktemp -d)
trap 'rm -rf "$prefix"' EXIT
cmake --install "$build" --prefix "$prefix" >/dev/null
export PKG_CONFIG_PATH="$prefix/lib/pkgconfig:$prefix/lib/x86_64-linux-gnu/pkgconfig:$prefix/lib64/pkgconfig"
libdir=$(pkg-config --variable=libdir urio)
cc -Wall -Wextra -Werror "$src/tests/consumer/example.c" $(pkg-config --cflags --libs urio) \
  -Wl,-rpath,"$libdir" -o "$prefix/example_pc"
c++ -Wall -Wextra -Werror -x c++ "$src/tests/consumer/headers.cc" $(pkg-config --cflags --libs urio) \
  -Wl,-rpath,"$libdir" -o "$prefix/headers_pc"
cmake -S "$src/tests/consumer" -B "$prefix/consumer" -DCMAKE_PREFIX_PATH="$prefix" \
  -DCMAKE_BUILD_RPATH="$libdir" >/dev/null
cmake --build "$prefix/consumer" >/dev/null
echo hello > "$prefix/in.txt"
for exe in "$prefix/example_pc" "$prefix/consumer/example_cmake" "$prefix/consumer/example_static"; do
  out=$("$exe" "$prefix/in.txt")
  [ "$out" = hello ] || { echo "$exe printed '$out'"; exit 1; }
done
"$prefix/headers_pc"
"$prefix/consumer/headers_cxx"
# the installed tool runs from a prefix outside the library path, on its
# install RPATH alone
env -u LD_LIBRARY_PATH "$prefix/bin/urio-ps" --help | grep -q usage || {
  echo "installed urio-ps does not run"; exit 1; }
echo "install: ok"
