#!/bin/sh
# SPDX-License-Identifier: MIT
# Runs docs/examples/pool_demo with short intervals, sends it SIGTERM midway, and checks from
# its logfmt output that every accepted job finished exactly once, that no job ran that was
# not accepted, and that the shutdown came before all jobs were submitted.
# usage: test_pool_demo.sh PATH-TO-pool_demo
# In a cross build, meson test sets MESON_EXE_WRAPPER (e.g. qemu-aarch64 and its options, split
# on blanks here) and the demo runs under it; SIGTERM goes to the wrapper, which hands it on.
set -eu
demo=$1
out=$(mktemp)
trap 'rm -f "$out"' EXIT

# shellcheck disable=SC2086 # the wrapper is a command and its arguments
${MESON_EXE_WRAPPER:-} "$demo" -w 4 -q 10 -n 1000 -i 5 -d 20 >"$out" &
pid=$!

# Let it accept some jobs first (at most ~20 s, for slow sanitizer builds).
tries=0
while [ "$(grep -c 'msg="job accepted"' "$out" || true)" -lt 20 ]; do
	tries=$((tries + 1))
	if [ "$tries" -gt 400 ]; then
		kill -KILL "$pid" 2>/dev/null || true
		echo "FAIL: the demo did not get going"; cat "$out"; exit 1
	fi
	sleep 0.05
done
kill -TERM "$pid"
if wait "$pid"; then status=0; else status=$?; fi

awk -v status="$status" '
function val(key,   i, f) {
	for (i = 1; i <= NF; i++) {
		f = $i
		if (index(f, key "=") == 1)
			return substr(f, length(key) + 2)
	}
	return ""
}
/msg="job accepted"/ { acc[val("job")]++; naccepted++ }
/msg="job start"/    { start[val("job")]++ }
/msg="job done"/     { done[val("job")]++; ndone++ }
/msg="job cancelled"/ { bad = bad "cancelled without a drain timeout: " val("job") "\n" }
/msg="shutdown requested"/ { requested = 1 }
/msg="stopped"/      { stopped = $0; sacc = val("accepted"); sdone = val("done") }
END {
	if (status != 0) bad = bad "exit status " status "\n"
	if (!requested) bad = bad "no \"shutdown requested\" line: SIGTERM not seen midway\n"
	if (stopped == "") bad = bad "no \"stopped\" line\n"
	if (naccepted >= 1000) bad = bad "every job was accepted: the signal came too late\n"
	for (j in acc) {
		if (acc[j] != 1) bad = bad "job " j " accepted " acc[j] " times\n"
		if (done[j] != 1) bad = bad "job " j " accepted but done " (done[j] + 0) " times\n"
		if (start[j] != 1) bad = bad "job " j " started " (start[j] + 0) " times\n"
	}
	for (j in done)
		if (!(j in acc)) bad = bad "job " j " done but never accepted\n"
	if (sacc != naccepted || sdone != ndone)
		bad = bad "summary disagrees: " stopped "\n"
	if (bad != "") { printf "FAIL:\n%s", bad; exit 1 }
	printf "ok: %d jobs accepted before SIGTERM, each done exactly once\n", naccepted
}' "$out" || { echo "--- demo output ---"; cat "$out"; exit 1; }
