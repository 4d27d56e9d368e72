#!/bin/sh
# SPDX-License-Identifier: MIT
# scripts/install, as the README tells a user to run it, into a staging directory (DESTDIR)
# with the prefix /usr: the libraries, lfq.pc and the CMake package must land in directories
# this machine's toolchain searches without help. pkg-config's own search path (pc_path)
# must contain the directory of the installed lfq.pc, and the libraries must sit beside it.
# (On Debian Meson alone would pick lib64 without dpkg-dev, which pkg-config, ld.so and CMake
# do not search.) Then builds a program with pkg-config against the staged install.
# usage: test_install.sh SOURCE_ROOT WORK_DIR
set -eu
unset LD_LIBRARY_PATH
src=$1 work=$2

rm -rf "$work"
mkdir -p "$work"
stage=$work/stage
# -O0 and no Redis: the test is about where things go, not about the code.
if ! DESTDIR=$stage "$src/scripts/install" --no-packages --prefix /usr --builddir "$work/build" \
	-- --buildtype=plain -Dredis=disabled >"$work/install.log" 2>&1; then
	cat "$work/install.log"
	echo "FAIL: scripts/install failed"
	exit 1
fi
pc=$(cd "$stage" && find . -name lfq.pc | sed 's/^\.//')
[ -n "$pc" ] || { echo "FAIL: no lfq.pc installed"; exit 1; }
pcdir=$(dirname "$pc")
libdir=$(dirname "$pcdir")
echo "lfq.pc installed in $pcdir"
case ":$(pkg-config --variable pc_path pkg-config):" in
*":$pcdir:"*) echo "pkg-config searches $pcdir" ;;
*)
	echo "FAIL: pkg-config's search path $(pkg-config --variable pc_path pkg-config) lacks $pcdir"
	exit 1
	;;
esac
[ -e "$stage$libdir/liblfq.so" ] || { echo "FAIL: liblfq.so is not in $libdir"; exit 1; }

cat >"$work/app.c" <<'CEOF'
#include <stdio.h>
#include <lfq/lfq.h>
int main(void)
{
	printf("lfq %s\n", lfq_version());
	return 0;
}
CEOF
PKG_CONFIG_PATH=$stage$pcdir PKG_CONFIG_SYSROOT_DIR=$stage
export PKG_CONFIG_PATH PKG_CONFIG_SYSROOT_DIR
# shellcheck disable=SC2046 # pkg-config's output is a list of words
${CC:-cc} -o "$work/app" "$work/app.c" $(pkg-config --cflags --libs lfq)
out=$(LD_LIBRARY_PATH=$stage$libdir "$work/app")
echo "ok: scripts/install put lfq where the toolchain looks ($libdir); app printed: $out"
