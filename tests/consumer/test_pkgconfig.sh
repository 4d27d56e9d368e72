#!/bin/sh
# SPDX-License-Identifier: MIT
# Installs lfq from the build directory into a staging directory (meson install --destdir),
# then builds tests/consumer/consumer.c with the plain Makefile beside this script, through
# pkg-config, shared and static, and runs both. Checks that pkg-config reports the project's
# version, that the shared program loads liblfq from the staged install (not from the build
# tree), and that the static one needs no liblfq.so at all.
# usage: test_pkgconfig.sh BUILD_ROOT WORK_DIR PREFIX LIBDIR VERSION
set -eu
# As a user would: nothing from the test runner (meson test points LD_LIBRARY_PATH at the
# build tree's libraries).
unset LD_LIBRARY_PATH
build=$1 work=$2 prefix=$3 libdir=$4 version=$5
here=$(cd "$(dirname "$0")" && pwd)
case $libdir in /*) ;; *) libdir=$prefix/$libdir ;; esac

rm -rf "$work"
mkdir -p "$work/src"
stage=$work/stage
meson install -C "$build" --no-rebuild --quiet --destdir "$stage" >"$work/install.log"
cp "$here/Makefile" "$here/consumer.c" "$work/src/"

# A staged install: pkg-config finds lfq.pc there and prefixes its -I/-L paths with the stage.
PKG_CONFIG_PATH=$stage$libdir/pkgconfig
PKG_CONFIG_SYSROOT_DIR=$stage
export PKG_CONFIG_PATH PKG_CONFIG_SYSROOT_DIR

got=$(pkg-config --modversion lfq)
[ "$got" = "$version" ] || { echo "FAIL: pkg-config says lfq $got, expected $version"; exit 1; }
echo "pkg-config --cflags --libs lfq: $(pkg-config --cflags --libs lfq)"
echo "pkg-config --static --libs lfq: $(pkg-config --static --libs lfq)"

make -C "$work/src" CC="${CC:-cc}"

expect="lfq consumer ok: headers $version, library $version, 100 jobs"

out=$(LD_LIBRARY_PATH=$stage$libdir "$work/src/app")
[ "$out" = "$expect" ] || { echo "FAIL: app printed: $out"; exit 1; }
loaded=$(LD_LIBRARY_PATH=$stage$libdir ldd "$work/src/app" | awk '$1 ~ /^liblfq\.so/ {print $3}')
case $loaded in
"$stage"/*) echo "app loads $loaded" ;;
*) echo "FAIL: app loads liblfq from '$loaded', not from the staged install"; exit 1 ;;
esac

if readelf -d "$work/src/app_static" | grep -q 'NEEDED.*liblfq'; then
	echo "FAIL: app_static still needs a shared liblfq:"
	readelf -d "$work/src/app_static" | grep NEEDED
	exit 1
fi
out=$("$work/src/app_static")
[ "$out" = "$expect" ] || { echo "FAIL: app_static printed: $out"; exit 1; }
echo "ok: pkg-config consumer, shared and static ($out)"
