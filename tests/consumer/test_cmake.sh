#!/bin/sh
# SPDX-License-Identifier: MIT
# Installs lfq from the build directory into a staging directory (meson install --destdir),
# then configures, builds and runs the CMake project beside this script against it:
# find_package(lfq) through the installed lfqConfig.cmake, lfq::lfq (shared) and
# lfq::lfq_static. Also checks the version file: the project's version is accepted, a
# newer incompatible one is refused.
# CMAKE_PREFIX_PATH is only the prefix, as a user would pass it: where the package sits below
# it (lib/cmake, lib/<multiarch>/cmake, share/cmake) is for find_package to find.
# usage: test_cmake.sh BUILD_ROOT WORK_DIR PREFIX CMAKEDIR VERSION HAVE_REDIS(true|false)
# (CMAKEDIR: where the build installs lfqConfig.cmake, relative to PREFIX or absolute)
set -eu
# As a user would: nothing from the test runner (meson test points LD_LIBRARY_PATH at the
# build tree's libraries).
unset LD_LIBRARY_PATH
build=$1 work=$2 prefix=$3 cmakedir=$4 version=$5 redis=$6
here=$(cd "$(dirname "$0")" && pwd)
case $cmakedir in /*) ;; *) cmakedir=$prefix/$cmakedir ;; esac

rm -rf "$work"
mkdir -p "$work/src"
stage=$work/stage
meson install -C "$build" --no-rebuild --quiet --destdir "$stage" >"$work/install.log"
for f in lfqConfig.cmake lfqConfigVersion.cmake; do
	[ -f "$stage$cmakedir/$f" ] || { echo "FAIL: $cmakedir/$f not installed"; exit 1; }
done
cp "$here/CMakeLists.txt" "$here/consumer.c" "$work/src/"

expect_redis=OFF
[ "$redis" = true ] && expect_redis=ON
major=${version%%.*}
rest=${version#*.}
minor=${rest%%.*}

# Configures $work/$1 with the remaining arguments; its output goes to $work/$1.log.
configure()
{
	dir=$1
	shift
	cmake -S "$work/src" -B "$work/$dir" -G Ninja -DCMAKE_PREFIX_PATH="$stage$prefix" \
		-DLFQ_EXPECT_REDIS="$expect_redis" "$@" >"$work/$dir.log" 2>&1
}

if ! configure build -DLFQ_WANT_VERSION="$major.$minor"; then
	cat "$work/build.log"
	echo "FAIL: cmake could not configure the consumer"
	exit 1
fi
grep -q "lfq_VERSION=$version\$" "$work/build.log" ||
	{ cat "$work/build.log"; echo "FAIL: find_package(lfq) did not report version $version"; exit 1; }
cmake --build "$work/build"

expect="lfq consumer ok: headers $version, library $version, 100 jobs"
out=$("$work/build/app")
[ "$out" = "$expect" ] || { echo "FAIL: app printed: $out"; exit 1; }
loaded=$(ldd "$work/build/app" | awk '$1 ~ /^liblfq\.so/ {print $3}')
case $loaded in
"$stage"/*) echo "app loads $loaded" ;;
*) echo "FAIL: app loads liblfq from '$loaded', not from the staged install"; exit 1 ;;
esac
if readelf -d "$work/build/app_static" | grep -q 'NEEDED.*liblfq'; then
	echo "FAIL: app_static (lfq::lfq_static) still needs a shared liblfq"
	exit 1
fi
out=$("$work/build/app_static")
[ "$out" = "$expect" ] || { echo "FAIL: app_static printed: $out"; exit 1; }

# An incompatible version must be refused: the next major, and for 0.x the next minor too.
if [ "$major" = 0 ]; then
	newer="$major.$((minor + 1))"
else
	newer="$((major + 1)).0"
fi
if configure build-newer -DLFQ_WANT_VERSION="$newer"; then
	echo "FAIL: find_package(lfq $newer) accepted lfq $version"
	exit 1
fi
grep -q 'compatible' "$work/build-newer.log" ||
	{ cat "$work/build-newer.log"; echo "FAIL: find_package(lfq $newer) failed for another reason"; exit 1; }
echo "ok: CMake consumer, lfq::lfq and lfq::lfq_static ($out); lfq $newer refused"
