#!/usr/bin/env bash
#  The installed result as a user sees it: cmake --install into a fresh
#  prefix, then tests/install/shic_outside.c built outside the tree against
#  that prefix with pkg-config and with find_package (shic) (shared and
#  static), and each program run: a runtime created, pinged through
#  shic_client, destroyed. Usage: bash tests/install_test.sh [build-dir]
set -eu
src=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$src/build}" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
prefix=$work/prefix
cmake --install "$build" --prefix "$prefix" >/dev/null

#  pkg-config, from wherever the .pc landed (lib/ or lib/<multiarch>/)
pc=$(find "$prefix" -name libshic.pc | head -1)
export PKG_CONFIG_PATH=$(dirname "$pc")${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}
# shellcheck disable=SC2046
cc -std=gnu11 -Wall -Wextra -Werror "$src/tests/install/shic_outside.c" \
    $(pkg-config --cflags --libs libshic) -o "$work/shic_outside_pc"
LD_LIBRARY_PATH=$(pkg-config --variable=libdir libshic) "$work/shic_outside_pc"

#  find_package (shic)
cmake -S "$src/tests/install" -B "$work/cmake" -DCMAKE_PREFIX_PATH="$prefix" \
    -DCMAKE_C_FLAGS="-Wall -Wextra -Werror" >/dev/null
cmake --build "$work/cmake" >/dev/null
"$work/cmake/shic_outside"
"$work/cmake/shic_outside_static"
echo "install: pkg-config and find_package (shared, static) built and ran"
