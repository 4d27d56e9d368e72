#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# scripts/common.sh's package setup, against stand-ins for dpkg-query, apt-get, systemctl,
# service, update-rc.d and sudo (nothing on the machine is installed or changed):
#  - only the missing packages are installed;
#  - every system service that came with a package installed by the call (a dependency
#    included) is disabled and stopped: `systemctl disable --now` with systemd running,
#    `service stop` + `update-rc.d disable` (+ offline `systemctl disable`) without;
#  - services of packages installed before, and template units, are left alone;
#  - nothing is done when everything is installed;
#  - scripts/test's list has none of the benchmark-only packages, scripts/bench's has them.
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
	FAKE=$tmp PATH="$fake:$PATH" LFQ_SYSTEMD_RUNDIR="$tmp/run" bash -c \
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

run yes meson redis-server prometheus
has "apt-get install -y --no-install-recommends redis-server" "systemd"
has "systemctl disable --now redis-server.service" "systemd"
has "systemctl disable --now redis-tools-helper.service" "systemd, a dependency's service"
hasnt "prometheus" "systemd, installed before"
hasnt "redis-server@" "systemd, template unit"
hasnt "update-rc.d" "systemd"

run no meson redis-server prometheus
has "systemctl disable redis-server.service" "no systemd"
has "service redis-server stop" "no systemd"
has "update-rc.d redis-server disable" "no systemd"
hasnt "--now" "no systemd"
hasnt "prometheus" "no systemd, installed before"

run yes meson prometheus
[ -s "$tmp/log" ] && fail "all installed: expected no command, got: $(tr '\n' ';' <"$tmp/log")"

lists=$(bash -c '. "$1"; echo "test: ${LFQ_TEST_PACKAGES[*]}"; echo "bench: ${LFQ_BENCH_PACKAGES[*]}"; echo "peers: ${LFQ_BENCH_PEER_PACKAGES[*]}"' sh "$common")
test_list=$(sed -n 's/^test: //p' <<<"$lists")
bench_list=$(sed -n 's/^bench: //p' <<<"$lists")
peer_list=$(sed -n 's/^peers: //p' <<<"$lists")
# The optional peers: scripts/bench tries them separately, so a missing one is skipped.
for p in libdpdk-dev libatomic-queue-dev libconcurrentqueue-dev libxenium-dev libcds-dev \
	libglib2.0-dev libuv1-dev; do
	[[ " $test_list " == *" $p "* ]] && fail "scripts/test would install the benchmark peer $p"
	[[ " $bench_list " == *" $p "* ]] && fail "$p is optional, not in LFQ_BENCH_PACKAGES"
	[[ " $peer_list " == *" $p "* ]] || fail "scripts/bench would not try to install $p"
done
for p in golang-go libck-dev libboost-dev libtbb-dev libbenchmark-dev gnuplot-nox; do
	[[ " $test_list " == *" $p "* ]] && fail "scripts/test would install the benchmark-only $p"
	[[ " $bench_list " == *" $p "* ]] || fail "scripts/bench would not install $p"
done
for p in libcriterion-dev redis-server cmake make pkg-config; do
	[[ " $test_list " == *" $p "* ]] || fail "scripts/test would not install $p, which the tests use"
done

if ((fails > 0)); then
	exit 1
fi
echo "ok: package setup and service handling"
