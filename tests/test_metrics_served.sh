#!/bin/sh
# SPDX-License-Identifier: MIT
# Served metrics end to end: starts docs/examples/metrics_server (N jobs, every 10th failing),
# a private Prometheus (temporary directory, 127.0.0.1 only, a free port, 1 s scrapes) that
# scrapes it, and asks Prometheus's query API for the pool's submitted and failed counters.
# Skipped (exit 77) only when the prometheus binary (Debian package prometheus) is missing.
# usage: test_metrics_served.sh PATH-TO-metrics_server
set -eu
server=$1
jobs=137
prometheus=$(command -v prometheus || true)
if [ -z "$prometheus" ]; then
	echo "SKIP: prometheus not installed (Debian package prometheus, scripts/common.sh)"
	exit 77
fi
python=$(command -v python3)

tmp=$(mktemp -d)
spid=
ppid_=
cleanup()
{
	[ -n "$spid" ] && kill -TERM "$spid" 2>/dev/null || true
	[ -n "$ppid_" ] && kill -TERM "$ppid_" 2>/dev/null || true
	[ -n "$spid" ] && wait "$spid" 2>/dev/null || true
	[ -n "$ppid_" ] && wait "$ppid_" 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT
fail()
{
	echo "FAIL: $*"
	for f in "$tmp"/server.out "$tmp"/prometheus.log; do
		[ -f "$f" ] && { echo "--- $f"; tail -n 30 "$f"; }
	done
	exit 1
}

"$server" -n "$jobs" -f 10 >"$tmp/server.out" 2>&1 &
spid=$!
tries=0
until grep -q '^listening port=' "$tmp/server.out"; do
	tries=$((tries + 1))
	[ "$tries" -gt 400 ] && fail "metrics_server did not start listening"
	kill -0 "$spid" 2>/dev/null || fail "metrics_server exited"
	sleep 0.05
done
port=$(sed -n 's/^listening port=\([0-9]*\).*/\1/p' "$tmp/server.out")

# A free port for Prometheus: bound and released here, then passed on (another process could
# take it in between; then Prometheus fails to start and the test says so).
pport=$("$python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat >"$tmp/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: lfq
    static_configs:
      - targets: ['127.0.0.1:$port']
EOF
"$prometheus" --config.file="$tmp/prometheus.yml" --storage.tsdb.path="$tmp/data" \
	--web.listen-address="127.0.0.1:$pport" >"$tmp/prometheus.log" 2>&1 &
ppid_=$!

# query EXPR: prints the value of the first sample of an instant query, or nothing.
query()
{
	"$python" - "$pport" "$1" <<'EOF'
import json, sys, urllib.parse, urllib.request
url = "http://127.0.0.1:%s/api/v1/query?%s" % (
    sys.argv[1], urllib.parse.urlencode({"query": sys.argv[2]}))
try:
    with urllib.request.urlopen(url, timeout=2) as r:
        res = json.load(r)["data"]["result"]
except Exception:
    sys.exit(0)
if res:
    print(res[0]["value"][1])
EOF
}

# Wait for a scrape to land (at most ~60 s: slow sanitizer builds, a loaded machine).
tries=0
submitted=
while [ -z "$submitted" ]; do
	tries=$((tries + 1))
	[ "$tries" -gt 240 ] && fail "no scrape of lfq_pool_jobs_submitted_total reached Prometheus"
	kill -0 "$ppid_" 2>/dev/null || fail "prometheus exited"
	sleep 0.25
	submitted=$(query 'lfq_pool_jobs_submitted_total{job="lfq",pool="demo"}')
done
failed=$(query 'lfq_pool_jobs_failed_total{job="lfq",pool="demo"}')
up=$(query 'up{job="lfq"}')

[ "$submitted" = "$jobs" ] || fail "submitted: Prometheus has $submitted, expected $jobs"
[ "$failed" = "$((jobs / 10))" ] || fail "failed: Prometheus has $failed, expected $((jobs / 10))"
[ "$up" = "1" ] || fail "up{job=lfq} is '$up', expected 1"
kill -TERM "$spid"
if wait "$spid"; then status=0; else status=$?; fi
spid=
[ "$status" = 0 ] || fail "metrics_server exited with $status after SIGTERM"
echo "ok: Prometheus scraped submitted=$submitted failed=$failed from 127.0.0.1:$port"
