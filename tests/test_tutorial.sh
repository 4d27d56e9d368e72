#!/bin/sh
# SPDX-License-Identifier: MIT
# Runs docs/examples/tutorial with short intervals, reads its metrics over HTTP once, sends it
# SIGTERM midway and checks from its logfmt output that nothing was lost:
#  - every accepted job ended exactly once: done (not a multiple of 7) or dead as exhausted
#    after exactly 3 runs (a multiple of 7), never both, and no job ran that was not accepted;
#  - each run printed its attempt number (lfq_pool_job_attempt): 1, 2, 3;
#  - the SIGTERM came before all jobs were submitted, and the summary agrees with the lines;
#  - the metrics endpoint answered with the pool's counters.
# usage: test_tutorial.sh PATH-TO-tutorial
set -eu
prog=$1
out=$(mktemp)
metrics=$(mktemp)
trap 'rm -f "$out" "$metrics"' EXIT

"$prog" -n 1000 -i 3 -d 10 -b 5 >"$out" &
pid=$!

# Let it accept some jobs first, two multiples of 7 among them (at most ~20 s).
tries=0
while [ "$(grep -c 'msg="job accepted"' "$out" || true)" -lt 30 ]; do
	tries=$((tries + 1))
	if [ "$tries" -gt 400 ]; then
		kill -KILL "$pid" 2>/dev/null || true
		echo "FAIL: the tutorial did not get going"; cat "$out"; exit 1
	fi
	sleep 0.05
done
port=$(sed -n 's/.*metrics=http:\/\/127\.0\.0\.1:\([0-9]*\)\/.*/\1/p' "$out" | head -n 1)
python3 - "$port" >"$metrics" <<'EOF' || true
import sys, urllib.request
with urllib.request.urlopen("http://127.0.0.1:%s/metrics" % sys.argv[1], timeout=5) as r:
    sys.stdout.write(r.read().decode())
EOF
kill -TERM "$pid"
if wait "$pid"; then status=0; else status=$?; fi

if ! grep -q '^lfq_pool_jobs_submitted_total{pool="tutorial"} [0-9]' "$metrics"; then
	echo "FAIL: no lfq_pool_jobs_submitted_total from http://127.0.0.1:$port/metrics"
	head -n 20 "$metrics"
	exit 1
fi

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
/msg="job start"/    { j = val("job"); start[j]++
		       if (val("attempt") != start[j])
			       bad = bad "job " j ": start " start[j] " says attempt=" val("attempt") "\n" }
/msg="job done"/     { done[val("job")]++; ndone++ }
/msg="job dead"/     { dead[val("job")]++; ndead++; reason[val("job")] = val("reason");
		       runs[val("job")] = val("attempts") }
/msg="shutdown requested"/ { requested = 1 }
/msg="stopped"/      { stopped = $0; sacc = val("accepted"); ssub = val("submitted");
		       sok = val("succeeded"); sdead = val("dead"); tput = val("jobs_per_s") }
END {
	if (status != 0) bad = bad "exit status " status "\n"
	if (!requested) bad = bad "no \"shutdown requested\" line: SIGTERM not seen midway\n"
	if (stopped == "") bad = bad "no \"stopped\" line\n"
	if (naccepted >= 1000) bad = bad "every job was accepted: the signal came too late\n"
	for (j in acc) {
		if (acc[j] != 1) bad = bad "job " j " accepted " acc[j] " times\n"
		if (j % 7 == 0) {
			if (dead[j] != 1 || done[j] + 0 != 0)
				bad = bad "job " j " (a multiple of 7): dead " (dead[j] + 0) \
				    " times, done " (done[j] + 0) "\n"
			else if (reason[j] != "exhausted" || runs[j] != 3 || start[j] != 3)
				bad = bad "job " j ": reason " reason[j] " after " runs[j] \
				    " attempts, " (start[j] + 0) " starts; expected exhausted, 3\n"
		} else if (done[j] != 1 || dead[j] + 0 != 0 || start[j] != 1)
			bad = bad "job " j ": done " (done[j] + 0) ", dead " (dead[j] + 0) \
			    ", started " (start[j] + 0) " times\n"
	}
	for (j in start)
		if (!(j in acc)) bad = bad "job " j " ran but was never accepted\n"
	if (sacc != naccepted || ssub != naccepted || sok != ndone || sdead != ndead)
		bad = bad "summary disagrees with the lines: " stopped "\n"
	if (tput == "" || tput + 0 <= 0) bad = bad "no throughput in: " stopped "\n"
	if (bad != "") { printf "FAIL:\n%s", bad; exit 1 }
	printf "ok: %d accepted before SIGTERM, %d done, %d dead-lettered, each exactly once\n",
	    naccepted, ndone, ndead
}' "$out" || { echo "--- tutorial output ---"; cat "$out"; exit 1; }
