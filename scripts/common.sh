# SPDX-License-Identifier: MIT
# shellcheck shell=bash
#
# Shared setup for scripts/test, scripts/test-arm64, scripts/test-riscv64 and scripts/bench.
# Source it, do not run it:
#
#   . "$(dirname "${BASH_SOURCE[0]}")/common.sh"
#
# Provides:
#   LFQ_ROOT             absolute path of the project root (the directory above scripts/)
#   LFQ_TEST_PACKAGES    the Debian packages scripts/test needs
#   LFQ_BENCH_PACKAGES   the Debian packages scripts/bench needs whatever suites it runs
#   lfq_bench_packages   the packages given benchmark suites need on top of those
#   lfq_bench_peer_packages  the optional peers' packages of given suites, which
#                        scripts/bench tries to install but can do without
#   LFQ_SERVER_PACKAGES  the servers the tests start privately (redis-server, prometheus):
#                        the only packages whose system services are ever disabled
#   lfq_setup_packages   installs whichever of the given packages are missing, then disables
#                        the services of the servers above that this very call installed
#   lfq_quiet_services   disables and stops the system services some packages ship
#   lfq_configure        sets up or reconfigures a Meson build directory, idempotently
#   lfq_count_testlog    counts the passed and failed tests of a meson testlog.json
#   LFQ_ARM64_PACKAGES   the Debian (amd64) packages the arm64 stage needs
#   lfq_cross_sysroot    unpacks Debian packages of another architecture into a sysroot
#                        under build/, without installing them or changing dpkg/apt
#   lfq_arm64_tests      the arm64 stage of scripts/test, all of scripts/test-arm64
#   LFQ_RISCV64_PACKAGES the Debian (amd64) packages the riscv64 stage needs
#   lfq_riscv64_tests    the riscv64 stage of scripts/test, all of scripts/test-riscv64

set -euo pipefail

# What building the library needs (both scripts use it).
LFQ_BUILD_PACKAGES=(
	meson
	ninja-build
	pkg-config
	gcc
	python3
	liburcu-dev
	libhiredis-dev
)

# What scripts/test needs: the build, the C++ header check, the sanitizer builds, the format
# check, Criterion, the servers the tests start privately (redis-server, prometheus: the
# tests never use the system services these packages install, see lfq_quiet_services), and
# the consumer tests (CMake, make). Nothing that only the benchmarks use.
# shellcheck disable=SC2034 # used by scripts/test
LFQ_TEST_PACKAGES=(
	"${LFQ_BUILD_PACKAGES[@]}"
	g++
	clang
	clang-format
	libclang-rt-14-dev
	libcriterion-dev
	redis-server
	prometheus
	cmake
	make
)

# What scripts/bench needs whatever it runs: the build, Google Benchmark, gnuplot for the plots.
# shellcheck disable=SC2034 # used by scripts/bench
LFQ_BENCH_PACKAGES=(
	"${LFQ_BUILD_PACKAGES[@]}"
	g++
	libbenchmark-dev
	gnuplot-nox
)

# lfq_bench_packages SUITE...: prints, one per line, the packages that the given benchmark
# suites need beyond LFQ_BENCH_PACKAGES: the ring peers (Concurrency Kit, Boost, oneTBB) for
# the ring and queue suites, Go for the suites with a Go peer (ring_wait, pool), redis-server
# for redis. The tutorial, features, freeze-free and shared suites need nothing more.
lfq_bench_packages()
{
	local suite
	for suite in "$@"; do
		case "$suite" in
		ring | queue | designs | freeze) printf '%s\n' libck-dev libboost-dev libtbb-dev ;;
		ring_wait | pool) echo golang-go ;;
		redis) echo redis-server ;;
		esac
	done | sort -u
}

# lfq_bench_peer_packages SUITE...: prints the optional peers' packages for the given suites:
# scripts/bench tries to install them, but a peer whose package cannot be installed is built
# without and listed as skipped (bench/peers/meson.build), and the run goes on.
lfq_bench_peer_packages()
{
	local suite
	for suite in "$@"; do
		case "$suite" in
		ring | designs | freeze)
			printf '%s\n' libdpdk-dev libatomic-queue-dev libconcurrentqueue-dev \
				libxenium-dev libcds-dev
			;;
		queue) printf '%s\n' libconcurrentqueue-dev libxenium-dev libcds-dev ;;
		pool) printf '%s\n' libglib2.0-dev libuv1-dev ;;
		esac
	done | sort -u
}

# The servers that the tests start privately, on their own ports: when lfq_setup_packages
# installs one of them, Debian enables and starts its system service, which nothing here
# uses, so that service is disabled again. No other service is ever touched: a dependency's
# service (udev, rdma-ndd, ...) is left as Debian set it up, and a service whose unit or init
# script existed before the call may be the user's and is left alone too.
# shellcheck disable=SC2034 # used by lfq_setup_packages
LFQ_SERVER_PACKAGES=(redis-server prometheus)

# Where service units and init scripts live; a variable so that tests/test_common.sh can
# point it at a scratch directory.
LFQ_SERVICE_DIRS=${LFQ_SERVICE_DIRS:-/lib/systemd/system /usr/lib/systemd/system /etc/systemd/system /etc/init.d}

# Where a running systemd keeps its state; a variable so that tests/test_common.sh can
# pretend either way.
LFQ_SYSTEMD_RUNDIR=${LFQ_SYSTEMD_RUNDIR:-/run/systemd/system}

LFQ_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

# Prints a progress line on stderr, so that stdout stays free for results.
lfq_log()
{
	printf '==> %s\n' "$*" >&2
}

# Succeeds if the Debian package $1 is installed.
lfq_package_installed()
{
	dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'
}

# Prints the installed packages, one name per line, sorted.
lfq_installed_packages()
{
	dpkg-query -W -f='${db:Status-Abbrev} ${Package}\n' 2>/dev/null |
		awk '$1 == "ii" { print $2 }' | sort -u
}

# How to run a command as root: empty as root, `sudo -n` otherwise (set by lfq_setup_packages).
LFQ_AS_ROOT=()

# Prints the names of the service units and init scripts present now, one per line, sorted.
lfq_service_names()
{
	local d
	for d in $LFQ_SERVICE_DIRS; do
		if [[ -d "$d" ]]; then
			find "$d" -maxdepth 1 \( -type f -o -type l \) -printf '%f\n' 2>/dev/null || true
		fi
	done | sort -u
}

# lfq_quiet_services [--keep NAMES-FILE] PKG...
#
# Disables, and stops, every system service the given installed packages ship (a systemd unit
# in /lib/systemd/system, a SysV script in /etc/init.d): Debian starts and enables a service
# when its package is installed, and lfq's tests start their own private servers instead.
# Services named in NAMES-FILE (one per line: what existed before an installation) are left
# alone. With systemd running: `systemctl disable --now`. Without (a container, sysvinit):
# `service NAME stop` and `update-rc.d NAME disable`, and `systemctl disable` (offline, it
# only removes the unit's links) where systemctl exists. A command that fails is reported
# and the rest still run; returns 0.
lfq_quiet_services()
{
	local pkg path name keep=/dev/null
	local -a units=() scripts=()
	local -a root=(${LFQ_AS_ROOT[@]+"${LFQ_AS_ROOT[@]}"})

	if [[ "${1:-}" == --keep ]]; then
		keep=$2
		shift 2
	fi
	for pkg in "$@"; do
		while IFS= read -r path; do
			name=${path##*/}
			# It was there before this script installed anything: not ours to stop.
			if grep -qxF -- "$name" "$keep"; then
				continue
			fi
			case "$path" in
			/lib/systemd/system/*.service | /usr/lib/systemd/system/*.service)
				# A template (name@.service) is never enabled by an installation.
				[[ "$name" == *@.service ]] || units+=("$name")
				;;
			/etc/init.d/*)
				scripts+=("$name")
				;;
			esac
		done < <(dpkg-query -L "$pkg" 2>/dev/null || true)
	done
	if ((${#units[@]} == 0 && ${#scripts[@]} == 0)); then
		return 0
	fi
	lfq_log "disabling the services installed with them: ${units[*]-} ${scripts[*]-}"

	if [[ -d "$LFQ_SYSTEMD_RUNDIR" ]]; then
		for name in ${units[@]+"${units[@]}"}; do
			${root[@]+"${root[@]}"} systemctl disable --now "$name" ||
				lfq_log "could not disable $name"
		done
		return 0
	fi
	if command -v systemctl >/dev/null 2>&1; then
		for name in ${units[@]+"${units[@]}"}; do
			${root[@]+"${root[@]}"} systemctl disable "$name" ||
				lfq_log "could not disable $name"
		done
	fi
	for name in ${scripts[@]+"${scripts[@]}"}; do
		${root[@]+"${root[@]}"} service "$name" stop >/dev/null 2>&1 || true
		if command -v update-rc.d >/dev/null 2>&1; then
			${root[@]+"${root[@]}"} update-rc.d "$name" disable ||
				lfq_log "could not disable $name"
		fi
	done
	return 0
}

# lfq_setup_packages PKG...
#
# Installs those of the given Debian packages that are not installed yet. When all are
# present it only asks dpkg, so it is fast to call on every run. Installs as root directly,
# otherwise through a password-less `sudo -n`; if neither is possible it prints the one
# command the user should run and exits 1. Returns 1 if apt-get fails. Afterwards, the
# system services of the LFQ_SERVER_PACKAGES that this call installed are disabled and
# stopped (lfq_quiet_services), unless their unit or init script existed before the call.
# Every other service, a dependency's included, is left as it is: it may be the user's.
lfq_setup_packages()
{
	local pkg
	local -a missing=() before=() new=()

	if ! command -v dpkg-query >/dev/null 2>&1; then
		lfq_log "dpkg-query not found: not a Debian system, not checking packages"
		return 0
	fi

	for pkg in "$@"; do
		if ! lfq_package_installed "$pkg"; then
			missing+=("$pkg")
		fi
	done
	if ((${#missing[@]} == 0)); then
		return 0
	fi

	lfq_log "missing Debian packages: ${missing[*]}"
	LFQ_AS_ROOT=()
	if ((EUID != 0)); then
		if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
			LFQ_AS_ROOT=(sudo -n)
		else
			echo "lfq: cannot install packages without root; please run:" >&2
			echo "sudo apt-get install -y --no-install-recommends ${missing[*]}"
			exit 1
		fi
	fi

	mapfile -t before < <(lfq_installed_packages)
	local services_before
	services_before=$(mktemp)
	lfq_service_names >"$services_before"
	if ! ${LFQ_AS_ROOT[@]+"${LFQ_AS_ROOT[@]}"} env DEBIAN_FRONTEND=noninteractive apt-get update; then
		echo "lfq: apt-get update failed" >&2
		rm -f "$services_before"
		return 1
	fi
	local rc=0
	${LFQ_AS_ROOT[@]+"${LFQ_AS_ROOT[@]}"} env DEBIAN_FRONTEND=noninteractive \
		apt-get install -y --no-install-recommends "${missing[@]}" || rc=$?
	# Even after a failed install: whatever did get installed may have enabled a service.
	mapfile -t new < <(comm -13 <(printf '%s\n' ${before[@]+"${before[@]}"}) <(lfq_installed_packages) |
		grep -xF -f <(printf '%s\n' "${LFQ_SERVER_PACKAGES[@]}") || true)
	lfq_quiet_services --keep "$services_before" ${new[@]+"${new[@]}"}
	rm -f "$services_before"
	if ((rc != 0)); then
		echo "lfq: apt-get install failed for: ${missing[*]}" >&2
		return 1
	fi
	return 0
}

# lfq_configure DIR [meson args...]
#
# Makes DIR a configured Meson build directory of the project with the given arguments.
# If DIR has no build.ninja yet it runs `meson setup`; otherwise it runs `meson configure` with
# the same arguments, but only if they differ from those of the previous successful call
# (kept in DIR/.lfq-setup-args). A second call with the same arguments does nothing.
# Compiler choice (CC, CXX) is read from the environment by `meson setup` only.
# Note: `meson configure` cannot unset an option that was dropped from the arguments; remove
# DIR to start over in that case.
lfq_configure()
{
	local dir="$1"
	shift
	local stamp="$dir/.lfq-setup-args"
	local want

	want="$(printf '%s\n' "$@")"

	if [[ ! -f "$dir/build.ninja" ]]; then
		local -a fresh=()
		# A directory that was configured once but lost build.ninja must be wiped first,
		# or meson setup refuses it as "already configured".
		if [[ -f "$dir/meson-private/coredata.dat" ]]; then
			fresh=(--wipe)
		fi
		rm -f "$stamp"
		lfq_log "meson setup $dir $*"
		meson setup ${fresh[@]+"${fresh[@]}"} "$@" "$dir" "$LFQ_ROOT" || return
		printf '%s\n' "$want" >"$stamp"
		return 0
	fi

	if [[ -f "$stamp" ]] && [[ "$(cat "$stamp")" == "$want" ]]; then
		return 0
	fi

	lfq_log "meson configure $dir $*"
	rm -f "$stamp"
	if (($# > 0)); then
		meson configure "$dir" "$@" || return
	fi
	printf '%s\n' "$want" >"$stamp"
}

# lfq_count_testlog FILE: prints "PASSED FAILED" for one meson testlog.json (one JSON object per
# line, with a "result" field), and the names of failed tests on stderr.
lfq_count_testlog()
{
	local log="$1"
	if command -v python3 >/dev/null 2>&1 && python3 - "$log" <<'EOF'; then
import json, sys

passed = failed = 0
with open(sys.argv[1], encoding="utf-8", errors="replace") as log:
    for line in log:
        line = line.strip()
        if not line:
            continue
        try:
            test = json.loads(line)
        except ValueError:
            continue
        result = test.get("result", "")
        if result in ("OK", "EXPECTEDFAIL"):
            passed += 1
        elif result == "SKIP":
            pass
        else:  # FAIL, UNEXPECTEDPASS, TIMEOUT, ERROR, INTERRUPT, ...
            failed += 1
            print("  failed: %s (%s)" % (test.get("name", "?"), result), file=sys.stderr)
print(passed, failed)
EOF
		return 0
	fi
	# Without python3: count the top-level "result" fields (escaped quotes inside captured
	# output cannot match this pattern).
	local results p f
	results="$(grep -o '"result": *"[A-Z]*"' "$log" | sed 's/.*"\([A-Z]*\)"$/\1/' || true)"
	p="$(grep -c -x -E 'OK|EXPECTEDFAIL' <<<"$results" || true)"
	f="$(grep -c -x -v -E 'OK|EXPECTEDFAIL|SKIP|' <<<"$results" || true)"
	echo "${p:-0} ${f:-0}"
}

# The Debian packages the arm64 stage (lfq_arm64_tests) installs on the host: the cross
# compilers and qemu-user (without binfmt_misc: the tests name qemu-aarch64 themselves). All
# amd64 packages; the arm64 liburcu comes from lfq_cross_sysroot instead.
# shellcheck disable=SC2034 # used by lfq_arm64_tests
LFQ_ARM64_PACKAGES=(
	meson
	ninja-build
	pkg-config
	python3
	gcc-aarch64-linux-gnu
	g++-aarch64-linux-gnu
	qemu-user
)

# lfq_cross_sysroot DEB-ARCH DIR PKG...
#
# Makes DIR a sysroot holding the given Debian packages of architecture DEB-ARCH, unpacked
# with `dpkg-deb -x`: nothing is installed and the system's dpkg and apt configuration are
# neither changed nor relied on (no `dpkg --add-architecture`). `apt-get download` fetches
# them through the system's sources with a private state in DIR.apt: its own package lists
# and cache, DEB-ARCH as the only architecture, and an empty dpkg status. A DIR made earlier
# for the same packages is kept as it is (DIR/.lfq-packages); remove DIR to fetch again.
# Returns nonzero if a download or an unpacking fails.
lfq_cross_sysroot()
{
	local arch="$1" dir="$2"
	shift 2
	local state="$dir.apt" want deb
	local -a apt

	want="$arch $*"
	if [[ -f "$dir/.lfq-packages" ]] && [[ "$(cat "$dir/.lfq-packages")" == "$want" ]]; then
		return 0
	fi
	rm -rf "$dir" "$state"
	mkdir -p "$dir" "$state/lists/partial" "$state/cache/archives/partial" "$state/debs" ||
		return
	: >"$state/status" || return
	apt=(apt-get -q -o "APT::Architecture=$arch" -o "APT::Architectures::=$arch"
		-o "Dir::State=$state" -o "Dir::State::Lists=$state/lists"
		-o "Dir::State::status=$state/status" -o "Dir::Cache=$state/cache")
	lfq_log "sysroot $dir: $* ($arch) through apt-get download, package lists in $state"
	"${apt[@]}" update || return
	(cd "$state/debs" && "${apt[@]}" download "$@") || return
	for deb in "$state/debs"/*.deb; do
		lfq_log "sysroot $dir: unpacking ${deb##*/}"
		dpkg-deb -x "$deb" "$dir" || return
	done
	printf '%s\n' "$want" >"$dir/.lfq-packages"
}

# lfq_cross_build NAME DIR SETUP-ARGS...
#
# Configures DIR for a cross build (the tests on; benchmarks and Redis off) and compiles it.
# Cross files cannot be changed by `meson configure`, so a DIR set up with other arguments
# starts over. On failure adds one to the caller's `failed`, a line to its `failures`, and
# returns 1.
lfq_cross_build()
{
	local name="$1" dir="$2"
	shift 2
	local -a setup_args=("$@" -Dtests=enabled -Dbenchmarks=disabled -Dredis=disabled)

	if [[ -d "$dir" ]] &&
		[[ "$(cat "$dir/.lfq-setup-args" 2>/dev/null)" != "$(printf '%s\n' "${setup_args[@]}")" ]]; then
		rm -rf "$dir"
	fi
	lfq_log "[$name] configure"
	if ! lfq_configure "$dir" "${setup_args[@]}"; then
		failed=$((failed + 1))
		failures+=("$name: meson setup/configure failed")
		return 1
	fi
	lfq_log "[$name] compile"
	if ! nice -n 10 meson compile -C "$dir"; then
		failed=$((failed + 1))
		failures+=("$name: compile failed")
		return 1
	fi
}

# lfq_cross_test NAME DIR MESON-TEST-ARGS...
#
# Runs DIR's tests (two at a time, the cross file's exe_wrapper: QEMU) with the caller's
# `envs` array in their environment, and adds what DIR's test log counts to the caller's
# `passed` and `failed`, a line per kind of failure to its `failures`.
lfq_cross_test()
{
	local name="$1" dir="$2"
	shift 2
	local log="$dir/meson-logs/testlog.json" rc=0 p f

	rm -f "$log"
	env "${envs[@]}" meson test -C "$dir" --no-rebuild --print-errorlogs --num-processes 2 \
		"$@" || rc=$?
	if [[ ! -f "$log" ]]; then
		failed=$((failed + 1))
		failures+=("$name: meson test wrote no log (exit status $rc)")
		return 0
	fi
	read -r p f < <(lfq_count_testlog "$log" || echo 0 0)
	lfq_log "[$name] $p passed, $f failed"
	passed=$((passed + p))
	failed=$((failed + f))
	if ((f > 0)); then
		failures+=("$name: $f test(s) failed, see the error logs above")
	elif ((rc != 0)); then
		failed=$((failed + 1))
		failures+=("$name: meson test exited with status $rc")
	fi
}

# lfq_arm64_tests [MESON-TEST-ARGS...]
#
# The arm64 stage, all of scripts/test-arm64 and one stage of scripts/test: installs
# LFQ_ARM64_PACKAGES, makes build/sysroot-aarch64 (liburcu for arm64, lfq_cross_sysroot) and
# build/sysroot-aarch64.ini (the machine file that names it for cross/aarch64-linux-gnu.ini),
# cross-builds build/aarch64 (the default ring backend, which must be the cell ring there)
# and runs its ring, queue and pool tests (unit and stress, pool_demo included) under
# qemu-aarch64 twice: on QEMU's default CPU (ARMv8.1 atomics: lfq__cas128 runs CASPAL) and
# as a Cortex-A53 (ARMv8.0: the LDAXP/STLXP fallback, which getauxval picks at run time).
# Stress sizes are LFQ_STRESS_SCALE (default 0.25). Must run from LFQ_ROOT.
#
# Adds each meson test's result to the caller's `passed` and `failed` counters, and a line
# per failure to its `failures` array; a step that fails before the tests (packages,
# sysroot, configure, compile) counts as one failure. Returns 0.
lfq_arm64_tests()
{
	local dir=build/aarch64 sysroot="$LFQ_ROOT/build/sysroot-aarch64"
	local -a run
	local name

	if ! (lfq_setup_packages "${LFQ_ARM64_PACKAGES[@]}"); then
		failed=$((failed + 1))
		failures+=("aarch64: could not install the cross toolchain or qemu-user")
		return 0
	fi
	if ! lfq_cross_sysroot arm64 "$sysroot" liburcu-dev liburcu8; then
		failed=$((failed + 1))
		failures+=("aarch64: could not download liburcu for arm64 into build/sysroot-aarch64")
		return 0
	fi
	# Meson reads string constants from an earlier machine file; a quote would end this one.
	if [[ "$sysroot" == *"'"* ]]; then
		failed=$((failed + 1))
		failures+=("aarch64: the path $sysroot has a quote, which a Meson machine file cannot hold")
		return 0
	fi
	printf '%s\n' "# Made by scripts/common.sh (lfq_arm64_tests); read by cross/aarch64-linux-gnu.ini." \
		'[constants]' "sysroot = '$sysroot'" >"$sysroot.ini"

	lfq_cross_build aarch64 "$dir" --cross-file "$sysroot.ini" \
		--cross-file cross/aarch64-linux-gnu.ini || return 0
	if grep -q 'LFQ_RING_CELLS=1' "$dir/build.ninja"; then
		passed=$((passed + 1))
	else
		failed=$((failed + 1))
		failures+=("aarch64: the build did not choose the cell ring")
	fi

	# The ring, queue and pool tests (and the ring's interleaving checkers), unit and stress.
	mapfile -t run < <(python3 - "$dir" <<'PY'
import json, re, subprocess, sys

tests = json.loads(subprocess.run(["meson", "introspect", sys.argv[1], "--tests"],
                                  check=True, capture_output=True, text=True).stdout)
for t in tests:
    # Not check_weak: its model replaces every atomic of the ring and the waitq, so on arm64
    # it would run the same model as on x86-64 (two minutes under QEMU), not arm64's code.
    if {"unit", "stress"} & {s.split(":")[-1] for s in t["suite"]} and re.search(
            r"ring|queue|pool|scq|lockfree|check_", t["name"]) and t["name"] != "check_weak":
        print(t["name"])
PY
	)
	if ((${#run[@]} == 0)); then
		failed=$((failed + 1))
		failures+=("aarch64: no ring, queue or pool test found in $dir")
		return 0
	fi

	# QEMU_CPU: the default CPU has the ARMv8.1 atomics; a Cortex-A53 has not.
	for name in aarch64 aarch64-v8.0; do
		local -a envs=("LFQ_STRESS_SCALE=${LFQ_STRESS_SCALE:-0.25}")
		if [[ "$name" == aarch64-v8.0 ]]; then
			envs+=(QEMU_CPU=cortex-a53)
		fi
		lfq_log "[$name] test under qemu-aarch64 (${envs[*]}): ${run[*]}"
		lfq_cross_test "$name" "$dir" "$@" "${run[@]}"
		# The single-thread push+pop pair, printed, not counted: QEMU's timing of the
		# emulated instructions, not what an arm64 CPU would take (docs/benchmarks.md).
		lfq_log "[$name] push+pop pair under qemu-aarch64 (the emulator's timing, not arm64's):"
		env "${envs[@]}" meson test -C "$dir" --no-rebuild --benchmark --verbose ring_pair |
			grep -E '^ +(lfq|vyukov|mutex)|push\+pop pair' || true
	done
	return 0
}

# The Debian packages the riscv64 stage (lfq_riscv64_tests) installs on the host: the cross
# compiler, its C library (only recommended by gcc-riscv64-linux-gnu, which
# --no-install-recommends skips) and qemu-user. All amd64 packages: Debian 12 has no riscv64
# release, so there is no riscv64 package to fetch, and the stage needs none (ring_only).
# shellcheck disable=SC2034 # used by lfq_riscv64_tests
LFQ_RISCV64_PACKAGES=(
	meson
	ninja-build
	pkg-config
	python3
	gcc-riscv64-linux-gnu
	libc6-dev-riscv64-cross
	qemu-user
)

# lfq_riscv64_tests [MESON-TEST-ARGS...]
#
# The riscv64 stage, all of scripts/test-riscv64 and one stage of scripts/test: installs
# LFQ_RISCV64_PACKAGES and cross-builds build/riscv64 with cross/riscv64-linux-gnu.ini and
# -Dring_only=true (Debian 12 has no riscv64 liburcu, which the queue and the pool need). Two
# checks of the backend choice: that build must have chosen the portable SCQ ring (riscv64
# has no double-width CAS), and -Dring_backend=cells must fail to configure, saying why. Then
# every test of that build (the ring's unit and stress suites, the interleaving checkers and
# their SCQ mutants) runs under qemu-riscv64. Stress sizes are LFQ_STRESS_SCALE (default
# 0.25). Must run from LFQ_ROOT.
#
# Adds each meson test's result and each check to the caller's `passed` and `failed`
# counters, and a line per failure to its `failures` array; a step that fails before the
# tests (packages, configure, compile) counts as one failure. Returns 0.
lfq_riscv64_tests()
{
	local dir=build/riscv64 scratch=build/riscv64-cells
	local -a setup_args envs
	local out

	if ! (lfq_setup_packages "${LFQ_RISCV64_PACKAGES[@]}"); then
		failed=$((failed + 1))
		failures+=("riscv64: could not install the cross toolchain or qemu-user")
		return 0
	fi

	setup_args=(--cross-file cross/riscv64-linux-gnu.ini -Dring_only=true)
	lfq_cross_build riscv64 "$dir" "${setup_args[@]}" || return 0
	# The library compiles ring_scq.c, and nothing is built for the cell ring.
	if grep -q 'liblfq\.so\.[0-9.]*\.p/ring_scq\.c\.o' "$dir/build.ninja" &&
		! grep -q 'LFQ_RING_CELLS=1' "$dir/build.ninja"; then
		passed=$((passed + 1))
	else
		failed=$((failed + 1))
		failures+=("riscv64: the build did not choose the portable SCQ ring")
	fi
	# Forcing the cell ring must stop at configure time with the reason, not fail to build.
	lfq_log "[riscv64] configure with -Dring_backend=cells (must fail)"
	rm -rf "$scratch"
	if out=$(meson setup "${setup_args[@]}" -Dtests=enabled -Dbenchmarks=disabled \
		-Dredis=disabled -Dring_backend=cells "$scratch" "$LFQ_ROOT" 2>&1); then
		failed=$((failed + 1))
		failures+=("riscv64: -Dring_backend=cells configured, but riscv64 has no double-width CAS")
	elif grep -q 'ring_backend=cells needs' <<<"$out"; then
		passed=$((passed + 1))
	else
		printf '%s\n' "$out" | tail -n 5 >&2
		failed=$((failed + 1))
		failures+=("riscv64: -Dring_backend=cells failed, but not with the backend's error")
	fi
	rm -rf "$scratch"

	envs=("LFQ_STRESS_SCALE=${LFQ_STRESS_SCALE:-0.25}")
	lfq_log "[riscv64] test under qemu-riscv64 (${envs[*]})"
	lfq_cross_test riscv64 "$dir" "$@"
	return 0
}
