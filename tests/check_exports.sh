#!/bin/sh
# SPDX-License-Identifier: MIT
# The shared library exports lfq_* functions and nothing else (hidden visibility).
# usage: check_exports.sh LIBRARY.so
set -eu
syms=$(nm -D --defined-only "$1" | awk '$2 ~ /^[TDBRVW]$/ {print $3}')
[ -n "$syms" ] || { echo "no exported symbols in $1"; exit 1; }
bad=$(printf '%s\n' "$syms" | grep -v '^lfq_' || true)
if [ -n "$bad" ]; then
	echo "unexpected exports:"; printf '%s\n' "$bad"; exit 1
fi
if printf '%s\n' "$syms" | grep -q '^lfq__'; then
	echo "internal lfq__ symbols exported:"; printf '%s\n' "$syms" | grep '^lfq__'; exit 1
fi
printf '%s\n' "$syms" | sed 's/^/exported: /'
