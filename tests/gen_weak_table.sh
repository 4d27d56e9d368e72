#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# tests/gen_weak_table.sh [BUILD_DIR]: runs the weak-memory checker's mutant sweep
# (tests/check_weak.c) of BUILD_DIR (default build/test) and puts its table into
# docs/design.md between the weak-mutants markers. The sweep fails when the document's table
# differs from the one it generates.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${1:-$root/build/test}
table=$(mktemp)

log=$(mktemp)
trap 'rm -f "$table" "$log"' EXIT
if ! LFQ_WEAK_TABLE=$table LFQ_WEAK_NO_DOC_CHECK=1 \
	"$build/tests/check_weak" --filter 'check_weak/every*' >"$log" 2>&1; then
	cat "$log" >&2
	echo "tests/gen_weak_table.sh: the sweep failed; docs/design.md left as it was" >&2
	exit 1
fi
python3 - "$root/docs/design.md" "$table" <<'PY'
import sys

doc_path, table_path = sys.argv[1], sys.argv[2]
begin, end = "<!-- weak-mutants:begin -->\n", "<!-- weak-mutants:end -->"
doc = open(doc_path, encoding="utf-8").read()
table = open(table_path, encoding="utf-8").read()
i, j = doc.index(begin) + len(begin), doc.index(end)
open(doc_path, "w", encoding="utf-8").write(doc[:i] + table + doc[j:])
PY
echo "docs/design.md: weak-mutants table updated"
