#!/bin/sh
# SPDX-License-Identifier: MIT
# Builds the Meson project in tests/consumer/parent with lfq as its subproject (a symlink to
# this source tree in subprojects/) and checks, from Meson's introspection, that lfq adds
# only its libraries (liblfq, and liblfq_redis where hiredis is found), all in C, with no C++
# compiler, no Criterion or Google Benchmark and no test or benchmark; then builds it and
# runs the program.
# usage: test_subproject.sh SOURCE_ROOT WORK_DIR VERSION
set -eu
# As a user would: nothing from the test runner (meson test points LD_LIBRARY_PATH at the
# build tree's libraries).
unset LD_LIBRARY_PATH
src=$1 work=$2 version=$3
here=$(cd "$(dirname "$0")" && pwd)

rm -rf "$work"
mkdir -p "$work/parent/subprojects"
cp "$here/parent/meson.build" "$here/consumer.c" "$work/parent/"
ln -s "$src" "$work/parent/subprojects/lfq"

if ! meson setup --force-fallback-for=lfq "$work/build" "$work/parent" >"$work/setup.log" 2>&1; then
	cat "$work/setup.log"
	echo "FAIL: meson setup of the parent project failed"
	exit 1
fi

meson introspect --targets "$work/build" >"$work/targets.json"
meson introspect --tests "$work/build" >"$work/tests.json"
meson introspect --benchmarks "$work/build" >"$work/benchmarks.json"
meson introspect --buildoptions "$work/build" >"$work/buildoptions.json"
meson introspect --dependencies "$work/build" >"$work/dependencies.json"
python3 - "$work" <<'PYEOF'
import json, sys

work = sys.argv[1]
def load(name):
    with open(f"{work}/{name}.json", encoding="utf-8") as f:
        return json.load(f)

bad = []
lfq = [t for t in load("targets") if t.get("subproject") == "lfq"]
kinds = {(t["name"], t["type"]) for t in lfq}
libraries = {(n, k) for n in ("lfq", "lfq_redis") for k in ("shared library", "static library")}
for t in lfq:
    if (t["name"], t["type"]) not in libraries:
        bad.append(f"lfq builds {t['type']} {t['name']}")
    # (a static library made of the shared one's objects lists no sources: "unknown")
    langs = {s.get("language") for s in t.get("target_sources", []) if s.get("sources")}
    if langs - {"c"}:
        bad.append(f"{t['name']} has sources in {sorted(langs - {'c'})}")
for need in (("lfq", "shared library"), ("lfq", "static library")):
    if need not in kinds:
        bad.append(f"missing {need[1]} {need[0]}")
cpp = sorted(o["name"] for o in load("buildoptions") if o["name"].split(":")[-1].startswith("cpp_"))
if cpp:
    bad.append(f"a C++ compiler was set up (options {cpp[:3]}...)")
deps = sorted(d["name"] for d in load("dependencies"))
for unwanted in ("criterion", "benchmark"):
    if unwanted in deps:
        bad.append(f"lfq looked up {unwanted}")
for what in ("tests", "benchmarks"):
    got = [t["name"] for t in load(what)]
    if got:
        bad.append(f"{what} registered in the parent: {got}")
if bad:
    print("FAIL:\n  " + "\n  ".join(bad))
    sys.exit(1)
print("lfq as a subproject builds: " + ", ".join(sorted(f"{n} ({k})" for n, k in kinds)))
PYEOF

if ! ninja -j 2 -C "$work/build" >"$work/build.log" 2>&1; then
	cat "$work/build.log"
	echo "FAIL: the parent project did not build"
	exit 1
fi
expect="lfq consumer ok: headers $version, library $version, 100 jobs"
out=$("$work/build/app")
[ "$out" = "$expect" ] || { echo "FAIL: app printed: $out"; exit 1; }
echo "ok: Meson subproject consumer ($out)"
