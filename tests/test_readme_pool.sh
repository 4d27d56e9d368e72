#!/bin/sh
# SPDX-License-Identifier: MIT
# Runs the README's pool program (extracted from README.md by tests/check_snippets.py):
# 1000 jobs to the end, then a long run stopped by SIGTERM. Each time it must exit 0 and
# account for every accepted job: succeeded + dead = accepted; the jobs that fail for good
# (n % 100 == 7) are its only dead ones, each reported once as a dead letter.
# usage: test_readme_pool.sh PROGRAM
# In a cross build, meson test sets MESON_EXE_WRAPPER (e.g. qemu-aarch64 and its options, split
# on blanks here) and the program runs under it; SIGTERM goes to the wrapper, which hands it on.
set -eu
prog=$1
wrapper=${MESON_EXE_WRAPPER:-}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# check OUT ERR: the summary line adds up; prints the accepted count.
check()
{
	line=$(grep '^accepted ' "$1") || { cat "$1" "$2"; echo "FAIL: no summary line"; exit 1; }
	set -- $line "$2"
	# accepted N: S succeeded, D dead
	n=${2%:} s=$3 d=$5 err=$7
	[ $((s + d)) -eq "$n" ] || { echo "FAIL: $line: succeeded + dead != accepted"; exit 1; }
	letters=$(grep -c '^dead letter: job [0-9]* failed after 1 attempt(s), result fail$' "$err" || true)
	[ "$letters" -eq "$d" ] || { cat "$err"; echo "FAIL: $d dead, $letters dead letters"; exit 1; }
	[ "$(wc -l <"$err")" -eq "$d" ] || { cat "$err"; echo "FAIL: unexpected lines on stderr"; exit 1; }
	echo "$n"
}

# shellcheck disable=SC2086 # the wrapper is a command and its arguments
$wrapper "$prog" 1000 >"$work/out" 2>"$work/err" || { cat "$work/out" "$work/err"; echo "FAIL: exit status $?"; exit 1; }
n=$(check "$work/out" "$work/err")
[ "$n" -eq 1000 ] || { echo "FAIL: accepted $n of 1000"; exit 1; }
grep -q '^accepted 1000: 990 succeeded, 10 dead$' "$work/out" ||
	{ cat "$work/out"; echo "FAIL: expected 990 succeeded, 10 dead"; exit 1; }
echo "ok: 1000 jobs, 10 dead letters"

# shellcheck disable=SC2086
$wrapper "$prog" 100000000 >"$work/out" 2>"$work/err" &
pid=$!
sleep 0.5
kill -TERM "$pid"
rc=0
wait "$pid" || rc=$?
[ "$rc" -eq 0 ] || { cat "$work/out"; echo "FAIL: exit status $rc after SIGTERM"; exit 1; }
grep -q '^stopping: ' "$work/out" || { cat "$work/out"; echo "FAIL: SIGTERM did not stop intake"; exit 1; }
n=$(check "$work/out" "$work/err")
echo "ok: SIGTERM after $n accepted jobs: every one succeeded or is a dead letter"
