#!/bin/sh
# SPDX-License-Identifier: MIT
# Each public header compiles on its own, as C11 and as C++17, with no warnings.
# usage: check_headers.sh CC CXX INCLUDE_DIR HEADER...
set -eu
cc=$1 cxx=$2 inc=$3
shift 3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for h in "$@"; do
	name=$(basename "$h")
	printf '#include <lfq/%s>\n#include <lfq/%s>\nint lfq_header_check;\n' "$name" "$name" >"$tmp/t.c"
	"$cc" -std=c11 -Wall -Wextra -Wpedantic -Werror -fsyntax-only -I"$inc" "$tmp/t.c"
	cp "$tmp/t.c" "$tmp/t.cpp"
	"$cxx" -std=c++17 -Wall -Wextra -Wpedantic -Werror -fsyntax-only -I"$inc" "$tmp/t.cpp"
	echo "ok: $name"
done
