# SPDX-License-Identifier: MIT
# shellcheck shell=bash
#
# Shared setup for scripts/test and scripts/bench. Source it, do not run it:
#
#   . "$(dirname "${BASH_SOURCE[0]}")/common.sh"
#
# Provides:
#   LFQ_ROOT             absolute path of the project root (the directory above scripts/)
#   LFQ_PACKAGES         the Debian packages a full test and benchmark run needs
#   LFQ_BENCH_PEER_PACKAGES  the packages of the optional benchmark peers (scripts/bench only)
#   lfq_setup_packages   installs whichever of LFQ_PACKAGES are missing
#   lfq_install_missing  installs whichever of the packages named as arguments are missing
#   lfq_configure        sets up or reconfigures a Meson build directory, idempotently

set -euo pipefail

# Everything the builds, tests, sanitizers, benchmarks and their plots need. Add new needs here.
LFQ_PACKAGES=(
	meson
	ninja-build
	pkg-config
	gcc
	g++
	clang
	clang-format
	libclang-rt-14-dev
	liburcu-dev
	libcriterion-dev
	libbenchmark-dev
	python3
	gnuplot-nox
	golang-go
	libck-dev
	libboost-dev
	libtbb-dev
	prometheus
	libhiredis-dev
	redis-server
)

# The optional benchmark peers (bench/peers/meson.build): scripts/bench installs them, and a
# peer whose package cannot be installed is built without and listed as skipped. Not needed
# by scripts/test (the test builds do not build the benchmarks).
# shellcheck disable=SC2034 # used by scripts/bench
LFQ_BENCH_PEER_PACKAGES=(
	libdpdk-dev
	libatomic-queue-dev
	libconcurrentqueue-dev
	libxenium-dev
	libcds-dev
)

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

# lfq_install_missing PACKAGE...
#
# Installs the packages named that are not installed yet. When all are present it only asks
# dpkg, so it is fast to call on every run. Installs as root directly, otherwise through a
# password-less `sudo -n`; if neither is possible it prints the one command the user should
# run and exits 1. Returns 1 if apt-get fails.
lfq_install_missing()
{
	local pkg
	local -a missing=()
	local -a as_root=()

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
	if ((EUID != 0)); then
		if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
			as_root=(sudo -n)
		else
			echo "lfq: cannot install packages without root; please run:" >&2
			echo "sudo apt-get install -y --no-install-recommends ${missing[*]}"
			exit 1
		fi
	fi

	if ! ${as_root[@]+"${as_root[@]}"} env DEBIAN_FRONTEND=noninteractive apt-get update; then
		echo "lfq: apt-get update failed" >&2
		return 1
	fi
	if ! ${as_root[@]+"${as_root[@]}"} env DEBIAN_FRONTEND=noninteractive \
		apt-get install -y --no-install-recommends "${missing[@]}"; then
		echo "lfq: apt-get install failed for: ${missing[*]}" >&2
		return 1
	fi
	return 0
}

# Installs the packages of LFQ_PACKAGES that are not installed yet (see lfq_install_missing).
lfq_setup_packages()
{
	lfq_install_missing "${LFQ_PACKAGES[@]}"
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
