#!/usr/bin/env python3
"""Adds up test results from meson testlog.json files and prints 'N passed, N failed'.

Boost.Test executables report their own case counts (BOOST_TEST_REPORT_LEVEL=short
on stdout); any other test, or a test executable that died before reporting,
counts as one case.
"""
import json
import re
import sys

REPORT = re.compile(r"(\d+) test cases? out of \d+ (passed|failed|skipped)")


def count(entry):
    found = {"passed": 0, "failed": 0, "skipped": 0}
    for number, kind in REPORT.findall(entry.get("stdout", "") or ""):
        found[kind] += int(number)
    result = entry.get("result")
    ok = result in ("OK", "EXPECTEDFAIL")
    if result == "SKIP":
        found["skipped"] += 1 if not any(found.values()) else 0
        return found
    if not any(found.values()):
        found["passed" if ok else "failed"] = 1
    elif not ok and found["failed"] == 0:
        found["failed"] = 1  # a crash or timeout after the report
    return found


def main(paths):
    total = {"passed": 0, "failed": 0, "skipped": 0}
    for path in paths:
        try:
            lines = open(path, encoding="utf-8").read().splitlines()
        except OSError as e:
            print(f"summary: cannot read {path}: {e}")
            total["failed"] += 1
            continue
        for line in lines:
            if not line.strip():
                continue
            entry = json.loads(line)
            got = count(entry)
            for k in total:
                total[k] += got[k]
            if got["failed"]:
                print(f"FAILED: {entry.get('name')} ({path})")
    tail = f", {total['skipped']} skipped" if total["skipped"] else ""
    print(f"{total['passed']} passed, {total['failed']} failed{tail}")
    return 1 if total["failed"] else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
