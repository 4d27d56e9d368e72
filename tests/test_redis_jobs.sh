#!/bin/sh
# SPDX-License-Identifier: MIT
# Runs docs/examples/redis_jobs against a private redis-server (a free loopback port, a
# temporary directory): two consumers, a producer of 200 jobs, then SIGTERM to both. Every
# job must have run (those whose n ends in 3 are dead-lettered instead, 20 of them), nothing
# may stay pending, and both consumers must stop cleanly (exit 0, their "stopped" line).
# Skipped (77) without redis-server.
# usage: test_redis_jobs.sh PATH-TO-redis_jobs
set -eu
prog=$1
command -v redis-server >/dev/null 2>&1 || { echo "SKIP: no redis-server"; exit 77; }
command -v redis-cli >/dev/null 2>&1 || { echo "SKIP: no redis-cli"; exit 77; }
work=$(mktemp -d)
server= a= b=
cleanup()
{
	for pid in $a $b $server; do
		kill -KILL "$pid" 2>/dev/null || true
	done
	rm -rf "$work"
}
trap cleanup EXIT

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --dir "$work" \
	--logfile "$work/redis.log" &
server=$!
cli()
{
	redis-cli -p "$port" "$@"
}
i=0
until [ "$(cli ping 2>/dev/null)" = PONG ]; do
	i=$((i + 1))
	[ $i -lt 500 ] || { echo "FAIL: redis-server did not start"; cat "$work/redis.log"; exit 1; }
	sleep 0.02
done

"$prog" -p "$port" consume a >"$work/a.out" 2>"$work/a.err" &
a=$!
"$prog" -p "$port" consume b >"$work/b.out" 2>"$work/b.err" &
b=$!
"$prog" -p "$port" produce 200 >"$work/p.out" || { cat "$work/p.out"; echo "FAIL: producer"; exit 1; }

# Until every job ran or was dead-lettered and nothing is pending.
i=0
while :; do
	done_n=$(cat "$work/a.out" "$work/b.out" | grep -c '^done n=' || true)
	dead=$(cli xlen jobs-dead)
	pending=$(cli xpending jobs workers | head -n 1)
	[ "$done_n" -ge 180 ] && [ "$dead" -ge 20 ] && [ "$pending" = 0 ] && break
	i=$((i + 1))
	if [ $i -ge 600 ]; then
		echo "FAIL: after 60 s: $done_n done, $dead dead letters, $pending pending"
		cat "$work/a.err" "$work/b.err"
		exit 1
	fi
	sleep 0.1
done

kill -TERM "$a" "$b"
for c in a b; do
	eval "pid=\$$c"
	rc=0
	wait "$pid" || rc=$?
	eval "$c="
	[ "$rc" -eq 0 ] || { cat "$work/$c.err"; echo "FAIL: consumer $c exited $rc after SIGTERM"; exit 1; }
	grep -q "^stopped consumer=$c " "$work/$c.out" ||
		{ cat "$work/$c.out"; echo "FAIL: consumer $c did not print its stopped line"; exit 1; }
done

# Each job that succeeds ran at least once (at least once delivery), and none of the failing.
missing=0
for n in $(seq 1 200); do
	if [ $((n % 10)) -eq 3 ]; then
		if grep -q "^done n=$n " "$work/a.out" "$work/b.out"; then
			echo "FAIL: job $n should have failed"
			exit 1
		fi
	elif ! grep -q "^done n=$n " "$work/a.out" "$work/b.out"; then
		missing=$((missing + 1))
	fi
done
[ "$missing" -eq 0 ] || { echo "FAIL: $missing jobs never ran"; exit 1; }
[ "$(cli xlen jobs-dead)" -eq 20 ] || { echo "FAIL: $(cli xlen jobs-dead) dead letters, not 20"; exit 1; }
echo "ok: 200 jobs over 2 consumers: 180 done, 20 dead-lettered, nothing pending; SIGTERM stopped both"
grep -h '^stopped' "$work/a.out" "$work/b.out"
