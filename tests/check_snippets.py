#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Compiles every ```c code block of the given Markdown files, so that no snippet can rot.

How a block is compiled depends on an HTML comment on the line(s) right before its fence
(invisible on GitHub and in other renderers):

  (none)                       a complete C file, compiled as it is.
  <!-- snippet: program NAME -->
                               a complete program; compiled as it is, and --extract NAME
                               writes it out so that the build can link and run it.
  <!-- snippet: fragment
  PRELUDE -->                  statements: compiled as the body of a function
                               `void lfq_snippet(void)`, after PRELUDE (C at file scope:
                               includes, and the declarations the statements use). The
                               prelude may be empty: `<!-- snippet: fragment -->`.
  <!-- snippet: file
  PRELUDE -->                  declarations at file scope, compiled after PRELUDE.

Every block is compiled with -std=c11 -Wall -Wextra -Werror (unused variables and functions
allowed: a fragment shows a call, not a whole program).

usage: check_snippets.py --cc "CC ARGS..." [-I DIR]... [--root DIR] [FILE.md...]
       check_snippets.py --extract NAME --output FILE.c FILE.md...
(--root DIR: DIR/README.md and every DIR/docs/*.md)
"""
import argparse
import os
import re
import shlex
import subprocess
import sys
import tempfile

MARKER = re.compile(r"<!--\s*snippet:\s*(program|fragment|file)\b(.*?)-->", re.S)
FLAGS = [
    "-std=c11", "-Wall", "-Wextra", "-Werror", "-Wno-unused-variable",
    "-Wno-unused-function", "-Wno-unused-but-set-variable", "-Wno-unused-parameter",
]


class Snippet:
    def __init__(self, path, line, kind, arg, code):
        self.path, self.line, self.kind, self.arg, self.code = path, line, kind, arg, code

    def where(self):
        return f"{self.path}:{self.line}"

    def source(self):
        """The C file to compile, with #line so that errors point into the Markdown."""
        name = self.path.replace("\\", "\\\\").replace('"', '\\"')
        if self.kind in ("fragment", "file"):
            prelude = self.arg.strip("\n")
            head = f'#line 1 "{name} (prelude of line {self.line})"\n{prelude}\n'
            body = f'#line {self.line + 1} "{name}"\n{self.code}'
            if self.kind == "fragment":
                return f"{head}void lfq_snippet(void);\nvoid lfq_snippet(void)\n{{\n{body}}}\n"
            return head + body
        return f'#line {self.line + 1} "{name}"\n{self.code}'


def snippets(path):
    """Yields the ```c blocks of one Markdown file."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    lines = text.split("\n")
    i = 0
    while i < len(lines):
        if lines[i].strip() != "```c":
            i += 1
            continue
        fence = i
        # The comment that ends on the line before the fence, if any.
        before = "\n".join(lines[max(0, fence - 60):fence])
        kind, arg = "complete", ""
        m = None
        for m in MARKER.finditer(before):
            pass
        if m and before[m.end():].strip() == "":
            kind, arg = m.group(1), m.group(2)
        j = fence + 1
        while j < len(lines) and lines[j].strip() != "```":
            j += 1
        if j == len(lines):
            raise SystemExit(f"{path}:{fence + 1}: unterminated ```c block")
        code = "\n".join(lines[fence + 1:j]) + "\n"
        if kind == "program":
            arg = arg.strip()
            if not re.fullmatch(r"[A-Za-z0-9_]+", arg):
                raise SystemExit(f"{path}:{fence}: `snippet: program` needs a NAME")
        yield Snippet(path, fence + 1, kind, arg, code)
        i = j + 1


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cc", help="the compiler command (one string, split like a shell)")
    ap.add_argument("-I", dest="include", action="append", default=[])
    ap.add_argument("--extract", metavar="NAME")
    ap.add_argument("--output")
    ap.add_argument("--root")
    ap.add_argument("files", nargs="*")
    args = ap.parse_args()
    if args.root:
        docs = os.path.join(args.root, "docs")
        args.files += [os.path.join(args.root, "README.md")] + sorted(
            os.path.join(docs, f) for f in os.listdir(docs) if f.endswith(".md"))

    if args.extract:
        found = [s for f in args.files for s in snippets(f)
                 if s.kind == "program" and s.arg == args.extract]
        if len(found) != 1:
            raise SystemExit(f"{len(found)} programs named {args.extract} in {args.files}")
        with open(args.output, "w", encoding="utf-8") as out:
            out.write(found[0].source())
        return 0

    cc = shlex.split(args.cc or os.environ.get("CC", "cc"))
    incs = [f"-I{d}" for d in args.include]
    failed = total = 0
    with tempfile.TemporaryDirectory() as tmp:
        for path in args.files:
            for s in snippets(path):
                total += 1
                src = os.path.join(tmp, f"snippet{total}.c")
                with open(src, "w", encoding="utf-8") as f:
                    f.write(s.source())
                cmd = cc + FLAGS + incs + ["-c", src, "-o", os.path.join(tmp, "out.o")]
                r = subprocess.run(cmd, capture_output=True, text=True)
                if r.returncode != 0:
                    failed += 1
                    print(f"FAIL: {s.where()} ({s.kind}) does not compile:")
                    print(r.stdout + r.stderr)
                else:
                    print(f"ok: {s.where()} ({s.kind}{' ' + s.arg if s.kind == 'program' else ''})")
    print(f"{total - failed} of {total} C blocks compile")
    if total == 0:
        print("FAIL: no C blocks found")
        return 1
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
