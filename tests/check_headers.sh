#!/bin/sh
# SPDX-License-Identifier: MIT
# Each public header compiles on its own, as C11 and as C++17, with no warnings.
# usage: check_headers.sh CC CXX INCLUDE_DIRS HEADER...
#   INCLUDE_DIRS: colon-separated (the source include/ and the build directory's, where the
#   generated lfq/version.h is)
set -eu
cc=$1 cxx=$2 incs=$3
shift 3
flags=
old_ifs=$IFS
IFS=:
for d in $incs; do
	flags="$flags -I$d"
done
IFS=$old_ifs
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for h in "$@"; do
	name=$(basename "$h")
	printf '#include <lfq/%s>\n#include <lfq/%s>\nint lfq_header_check;\n' "$name" "$name" >"$tmp/t.c"
	# shellcheck disable=SC2086 # $flags is a list of -I options
	"$cc" -std=c11 -Wall -Wextra -Wpedantic -Werror -fsyntax-only $flags "$tmp/t.c"
	cp "$tmp/t.c" "$tmp/t.cpp"
	# shellcheck disable=SC2086
	"$cxx" -std=c++17 -Wall -Wextra -Wpedantic -Werror -fsyntax-only $flags "$tmp/t.cpp"
	echo "ok: $name"
done
