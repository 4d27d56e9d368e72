#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# scripts/common.sh's package setup, against stand-ins for dpkg-query, apt-get, systemctl,
# service, update-rc.d and sudo (nothing on the machine is installed or changed):
#  - only the missing packages are installed;
#  - the system services of the private servers (redis-server, prometheus) installed by the
#    call are disabled and stopped: `systemctl disable --now` with systemd running,
#    `service stop` + `update-rc.d disable` (+ offline `systemctl disable`) without;
#  - every other service is left alone: a dependency's, one of a package installed before,
#    one whose unit existed before the call (it may be the user's), template units;
#  - nothing is done when everything is installed;
#  - scripts/test's list has none of the benchmark-only packages, scripts/bench's has them,
#    and a suite installs only its own peers (--only tutorial: none).
# usage: test_common.sh PATH-TO-scripts/common.sh
set -euo pipefail
common=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
fail()
{
	echo "FAIL: $*"
	fails=$((fails + 1))
}

fake=$tmp/bin
mkdir -p "$fake" "$tmp/files"
# The stand-ins log their arguments to $tmp/log; the installed packages are $tmp/installed.
cat >"$fake/dpkg-query" <<'EOS'
#!/bin/sh
echo "dpkg-query $*" >>"$FAKE/log.dpkg"
case $1 in
-L) cat "$FAKE/files/$2" 2>/dev/null; exit 0 ;;
-W)
	if [ $# -ge 3 ]; then
		grep -qx "$3" "$FAKE/installed" && printf 'install ok installed' && exit 0
		exit 1
	fi
	sed 's/^/ii  /' "$FAKE/installed"
	;;
esac
EOS
cat >"$fake/apt-get" <<'EOS'
#!/bin/sh
echo "apt-get $*" >>"$FAKE/log"
[ "$1" = install ] || exit 0
shift 3 # install -y --no-install-recommends
for p in "$@"; do echo "$p" >>"$FAKE/installed"; done
# redis-server pulls in a dependency, as the real one does.
case " $* " in *" redis-server "*) echo redis-tools >>"$FAKE/installed" ;; esac
EOS
for cmd in systemctl service update-rc.d; do
	# shellcheck disable=SC2016 # expanded by the stand-in, not here
	printf '#!/bin/sh\necho "%s $*" >>"$FAKE/log"\n' "$cmd" >"$fake/$cmd"
done
# shellcheck disable=SC2016
printf '#!/bin/sh\n[ "$1" = -n ] && shift\nexec "$@"\n' >"$fake/sudo"
chmod +x "$fake"/*

printf '%s\n' /etc/init.d/redis-server /lib/systemd/system/redis-server.service \
	/lib/systemd/system/redis-server@.service /usr/bin/redis-server >"$tmp/files/redis-server"
printf '%s\n' /usr/bin/redis-cli /lib/systemd/system/redis-tools-helper.service \
	>"$tmp/files/redis-tools"
printf '%s\n' /etc/init.d/prometheus /lib/systemd/system/prometheus.service \
	>"$tmp/files/prometheus"

# run SYSTEMD(yes|no) PKG...: lfq_setup_packages PKG... with meson and prometheus installed.
run()
{
	local systemd=$1
	shift
	printf '%s\n' meson prometheus >"$tmp/installed"
	: >"$tmp/log"
	rm -rf "$tmp/run"
	[ "$systemd" = yes ] && mkdir -p "$tmp/run"
	FAKE=$tmp PATH="$fake:$PATH" LFQ_SYSTEMD_RUNDIR="$tmp/run" \
		LFQ_SERVICE_DIRS="$tmp/units" bash -c \
		'. "$1"; shift; lfq_setup_packages "$@"' sh "$common" "$@" 2>"$tmp/stderr"
}
has()
{
	grep -qxF -- "$1" "$tmp/log" || fail "$2: expected \`$1\`; got: $(tr '\n' ';' <"$tmp/log")"
}
hasnt()
{
	if grep -q -- "$1" "$tmp/log"; then
		fail "$2: unexpected \`$1\` in: $(tr '\n' ';' <"$tmp/log")"
	fi
}

mkdir -p "$tmp/units"
run yes meson redis-server prometheus
has "apt-get install -y --no-install-recommends redis-server" "systemd"
has "systemctl disable --now redis-server.service" "systemd"
hasnt "redis-tools-helper" "systemd, a dependency's service"
hasnt "prometheus" "systemd, installed before"
hasnt "redis-server@" "systemd, template unit"
hasnt "update-rc.d" "systemd"

run no meson redis-server prometheus
has "systemctl disable redis-server.service" "no systemd"
has "service redis-server stop" "no systemd"
has "update-rc.d redis-server disable" "no systemd"
hasnt "--now" "no systemd"
hasnt "prometheus" "no systemd, installed before"

# A redis-server unit that was there before the call (the user's own) is never stopped.
touch "$tmp/units/redis-server.service"
run yes meson redis-server
has "apt-get install -y --no-install-recommends redis-server" "unit existed before"
hasnt "redis-server.service" "unit existed before"
run no meson redis-server
has "service redis-server stop" "no systemd, only the unit existed before"
hasnt "redis-server.service" "no systemd, unit existed before"
rm "$tmp/units/redis-server.service"

# A package outside the private servers: its service is never touched.
printf '%s\n' /lib/systemd/system/udev.service >"$tmp/files/udev"
run yes meson udev
has "apt-get install -y --no-install-recommends udev" "other package"
hasnt "systemctl" "other package's service"

run yes meson prometheus
[ -s "$tmp/log" ] && fail "all installed: expected no command, got: $(tr '\n' ';' <"$tmp/log")"

lists=$(bash -c '. "$1"; echo "test: ${LFQ_TEST_PACKAGES[*]}"; echo "bench: ${LFQ_BENCH_PACKAGES[*]}"
	echo "suites: $(lfq_bench_packages ring ring_wait queue pool features tutorial freeze designs shared redis | tr "\n" " ")"
	echo "peers: $(lfq_bench_peer_packages ring ring_wait queue pool features tutorial freeze designs shared redis | tr "\n" " ")"
	echo "tutorial: $(lfq_bench_packages tutorial features shared) $(lfq_bench_peer_packages tutorial features shared)"
	echo "pool: $(lfq_bench_packages pool | tr "\n" " ") $(lfq_bench_peer_packages pool | tr "\n" " ")"' sh "$common")
test_list=$(sed -n 's/^test: //p' <<<"$lists")
bench_list=$(sed -n 's/^bench: //p' <<<"$lists")
suite_list=$(sed -n 's/^suites: //p' <<<"$lists")
peer_list=$(sed -n 's/^peers: //p' <<<"$lists")
# The optional peers: scripts/bench tries them separately, so a missing one is skipped.
for p in libdpdk-dev libatomic-queue-dev libconcurrentqueue-dev libxenium-dev libcds-dev \
	libglib2.0-dev libuv1-dev; do
	[[ " $test_list " == *" $p "* ]] && fail "scripts/test would install the benchmark peer $p"
	[[ " $bench_list $suite_list " == *" $p "* ]] && fail "$p is optional, not required"
	[[ " $peer_list " == *" $p "* ]] || fail "scripts/bench would not try to install $p"
done
for p in golang-go libck-dev libboost-dev libtbb-dev libbenchmark-dev gnuplot-nox; do
	[[ " $test_list " == *" $p "* ]] && fail "scripts/test would install the benchmark-only $p"
	[[ " $bench_list $suite_list " == *" $p "* ]] || fail "scripts/bench would not install $p"
done
# A suite that measures only lfq and the mutex baselines installs no peer.
tutorial_list=$(sed -n 's/^tutorial: //p' <<<"$lists")
[[ -z "${tutorial_list// /}" ]] || fail "--only tutorial,features,shared would install: $tutorial_list"
pool_list=$(sed -n 's/^pool: //p' <<<"$lists")
for p in golang-go libglib2.0-dev libuv1-dev; do
	[[ " $pool_list " == *" $p "* ]] || fail "the pool suite would not install $p"
done
[[ " $pool_list " == *" libdpdk-dev "* ]] && fail "the pool suite would install the ring peer DPDK"
for p in libcriterion-dev redis-server cmake make pkg-config; do
	[[ " $test_list " == *" $p "* ]] || fail "scripts/test would not install $p, which the tests use"
done

if ((fails > 0)); then
	exit 1
fi
echo "ok: package setup and service handling"
