#!/usr/bin/env python3
"""Runs every libFuzzer target in BUILD/fuzz for SECONDS each, two at a time,
starting from the committed seed corpus in SEEDS/<target>/ (copied, so the
seeds are never modified). Writes one meson-testlog-style JSON line per target.

usage: run_fuzzers.py BUILD SEEDS SECONDS OUT.json
"""
import concurrent.futures
import json
import os
import shutil
import subprocess
import sys
import tempfile


def run(target, build, seeds, seconds):
    name = os.path.basename(target)
    work = tempfile.mkdtemp(prefix=f"{name}-")
    seed_dir = os.path.join(seeds, "corpus", name.removeprefix("fuzz_"))
    corpus = os.path.join(work, "corpus")
    if os.path.isdir(seed_dir):
        shutil.copytree(seed_dir, corpus)
    else:
        os.makedirs(corpus)
    cmd = [target, f"-max_total_time={seconds}", "-rss_limit_mb=2048", "-timeout=10",
           f"-artifact_prefix={work}/", corpus]
    env = dict(os.environ, ASAN_OPTIONS="detect_leaks=1", UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1")
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=seconds + 120)
    except (OSError, subprocess.TimeoutExpired) as e:
        print(f"fuzz {name}: FAIL ({e})", flush=True)
        return {"name": f"fuzz/{name}", "result": "FAIL", "stdout": ""}
    ok = proc.returncode == 0
    tail = "\n".join(proc.stderr.splitlines()[-40:])
    print(f"fuzz {name}: {'OK' if ok else 'FAIL'}" + ("" if ok else f"\n{tail}\nartifacts in {work}"), flush=True)
    if ok:
        shutil.rmtree(work, ignore_errors=True)
    return {"name": f"fuzz/{name}", "result": "OK" if ok else "FAIL", "stdout": ""}


def main(build, seeds, seconds, out):
    fuzz_dir = os.path.join(build, "fuzz")
    targets = sorted(
        os.path.join(fuzz_dir, f) for f in os.listdir(fuzz_dir)
        if f.startswith("fuzz_") and os.path.isfile(os.path.join(fuzz_dir, f))
        and os.access(os.path.join(fuzz_dir, f), os.X_OK)
    ) if os.path.isdir(fuzz_dir) else []
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(lambda t: run(t, build, seeds, int(seconds)), targets))
    with open(out, "w", encoding="utf-8") as f:
        for r in results:
            f.write(json.dumps(r) + "\n")
    return 0 if all(r["result"] == "OK" for r in results) else 1


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
