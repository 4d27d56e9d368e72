#!/bin/sh
# SPDX-License-Identifier: MIT
# find_package(lfq) whatever libdir lfq was installed with: builds the library alone from
# SOURCE_ROOT (no tests, no benchmarks, no Redis) with the custom prefix /opt/lfq-consumer,
# once per libdir (lib64 as Meson picks it on Fedora, or on Debian without dpkg-dev; lib; and
# Debian's lib/<multiarch> where the compiler has one), and runs test_cmake.sh against each
# install, with CMAKE_PREFIX_PATH set to the prefix only. The CMake that runs is this
# machine's, with its own search rules (Debian's never looks in lib64).
# usage: test_cmake_libdirs.sh SOURCE_ROOT WORK_DIR VERSION
set -eu
unset LD_LIBRARY_PATH
src=$1 work=$2 version=$3
here=$(cd "$(dirname "$0")" && pwd)
prefix=/opt/lfq-consumer

libdirs="lib64 lib"
multiarch=$(${CC:-cc} -print-multiarch 2>/dev/null || true)
[ -n "$multiarch" ] && libdirs="$libdirs lib/$multiarch"

rm -rf "$work"
mkdir -p "$work"
build=$work/lfq
# -O0: this build only has to be installed, and each libdir after the first only relinks.
if ! meson setup "$build" "$src" --prefix="$prefix" --buildtype=plain -Dtests=disabled \
	-Dbenchmarks=disabled -Dredis=disabled >"$work/setup.log" 2>&1; then
	cat "$work/setup.log"
	echo "FAIL: meson setup of lfq failed"
	exit 1
fi
for libdir in $libdirs; do
	meson configure "$build" -Dlibdir="$libdir" >"$work/configure.log" 2>&1 ||
		{ cat "$work/configure.log"; echo "FAIL: meson configure -Dlibdir=$libdir"; exit 1; }
	meson compile -C "$build" >"$work/compile.log" 2>&1 ||
		{ cat "$work/compile.log"; echo "FAIL: compile with libdir $libdir"; exit 1; }
	# Where this build installs lfqConfig.cmake, as Meson reports it.
	cmakedir=$(meson introspect --installed "$build" | python3 -c '
import json, os, sys
for dest in json.load(sys.stdin).values():
    if dest.endswith("/lfqConfig.cmake"):
        print(os.path.dirname(dest))
')
	[ -n "$cmakedir" ] || { echo "FAIL: libdir $libdir: no lfqConfig.cmake is installed"; exit 1; }
	echo "libdir $libdir: the CMake package goes to $cmakedir"
	if ! sh "$here/test_cmake.sh" "$build" "$work/consumer-$(echo "$libdir" | tr / _)" \
		"$prefix" "$cmakedir" "$version" false; then
		echo "FAIL: find_package(lfq) with libdir $libdir and CMAKE_PREFIX_PATH=<stage>$prefix"
		exit 1
	fi
done
echo "ok: find_package(lfq) found lfq installed with each libdir: $libdirs"
