#!/usr/bin/env python3
"""Compiles every unity source of a configured meson build, syntax only.

Usage: scripts/lib/check_unity.py BUILD_DIR [JOBS]

A unity build puts several sources in one translation unit, so two files that each define
the same helper in an anonymous namespace compile alone but not together. This finds such a
clash in about a minute, without building (or instrumenting) anything: the commands come from
the build's compile_commands.json, with the output and dependency-file options removed and
-fsyntax-only added, and run without a shell. Exits 1 if a unit does not compile.
"""

import concurrent.futures
import json
import os
import shlex
import subprocess
import sys

# Options that name an output or dependency file, each followed by its argument.
WITH_ARGUMENT = {"-o", "-MQ", "-MF", "-MT"}
ALONE = {"-MD", "-MMD"}


def syntax_only(command):
    args = shlex.split(command)
    kept = []
    skip = False
    for arg in args:
        if skip:
            skip = False
            continue
        if arg in WITH_ARGUMENT:
            skip = True
            continue
        if arg in ALONE:
            continue
        kept.append(arg)
    return kept + ["-fsyntax-only"]


def check(entry):
    result = subprocess.run(syntax_only(entry["command"]), cwd=entry["directory"],
                            capture_output=True, text=True)
    return entry["file"], result.returncode, result.stderr


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    build = sys.argv[1]
    jobs = int(sys.argv[2]) if len(sys.argv) > 2 else os.cpu_count() or 1
    with open(os.path.join(build, "compile_commands.json"), encoding="utf-8") as f:
        entries = [e for e in json.load(f) if "-unity" in os.path.basename(e["file"])]
    if not entries:
        sys.exit(f"{build}: no unity sources (configure it with -Dunity=on)")
    failed = 0
    with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as pool:
        for name, code, errors in pool.map(check, entries):
            if code != 0:
                failed += 1
                print(f"FAILED {name}\n{errors}", file=sys.stderr)
    print(f"{len(entries) - failed} of {len(entries)} unity units compile")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
