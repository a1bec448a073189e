#!/usr/bin/env python3
"""Time sqlalint against the reference, in one run on one machine.

    python bench/bench.py PATH              # a real checkout
    python bench/bench.py --synthetic 2000  # a generated repository of 2000 modules

Prints seconds and ratios to the reference (`ast.parse` of every discovered file, in this
process): sqlalint cold (`--no-cache`), sqlalint cold then cached (the same cache, twice),
and sqlalint on one small file (start-up: wall time of the subprocess). The sqlalint runs
are subprocesses of the `sqlalint` next to this Python (or --sqlalint). ``--repeat N`` runs
it all N times, interleaved, and keeps each row's best: on a shared host the reference
itself varies by half from one minute to the next.
"""
from __future__ import annotations

import argparse
import ast
import os
import platform
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
CASES = HERE.parent.parent / "shared" / "cases"

PLAIN = '''"""Plain module {n}: no SQLAlchemy at all."""
import json


def load_{n}(path):
    with open(path) as handle:
        return json.load(handle)


class Thing{n}:
    def __init__(self, value):
        self.value = value

    def double(self):
        return [v * 2 for v in range(self.value)]
'''


def synthetic(folder: Path, count: int, seed: int = 0) -> Path:
    """A repository of ``count`` modules: about one in three is a SQLAlchemy module taken
    from ../shared/cases (or a small built-in one), the rest plain Python."""
    rng = random.Random(seed)
    samples = [p.read_text(encoding="utf-8") for p in sorted(CASES.glob("*.py"))] if CASES.is_dir() else []
    samples = samples or ["from sqlalchemy import create_engine\n\n\ndef get():\n"
                          "    return create_engine('sqlite://')\n"]
    root = folder / "synthetic"
    (root / "app").mkdir(parents=True)
    (root / "pyproject.toml").write_text("[project]\nname = 'synthetic'\n")
    for n in range(count):
        package = root / "app" / f"pkg{n // 100}"
        package.mkdir(exist_ok=True)
        text = rng.choice(samples) if rng.random() < 0.35 else PLAIN.format(n=n)
        (package / f"mod{n}.py").write_text(text, encoding="utf-8")
    return root


def python_files(root: Path) -> list[Path]:
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard", "*.py"],
                            cwd=root, capture_output=True)
    if listed.returncode == 0 and listed.stdout:
        return [root / n for n in listed.stdout.decode().split("\0") if n]
    return sorted(p for p in root.rglob("*.py") if ".sqlalint_cache" not in p.parts)


def reference(files: list[Path]) -> tuple[float, float]:
    start, cpu = time.perf_counter(), time.process_time()
    for path in files:
        try:
            ast.parse(path.read_bytes())
        except (SyntaxError, ValueError):
            pass
    return time.perf_counter() - start, time.process_time() - cpu


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


# Bytecode may be written, as it is for an installed sqlalint (pip compiles on install): a
# PYTHONDONTWRITEBYTECODE=1 environment would otherwise recompile every sqlalint module on
# every run (about 30 ms of start-up).
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def timed(command: list[str], cwd: Path) -> tuple[float, float]:
    """Wall seconds and CPU seconds (all processes) of one sqlalint run."""
    start, cpu = time.perf_counter(), _children_cpu()
    subprocess.run(command, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=ENV)
    return time.perf_counter() - start, _children_cpu() - cpu


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("path", nargs="?", type=Path)
    parser.add_argument("--synthetic", type=int, metavar="N_FILES")
    parser.add_argument("--sqlalint", default=str(Path(sys.executable).parent / "sqlalint"))
    parser.add_argument("--jobs", type=int)
    parser.add_argument("--repeat", type=int, default=1,
                        help="run everything N times, interleaved, and keep each row's best (a noisy host)")
    args = parser.parse_args()
    if (args.path is None) == (args.synthetic is None):
        parser.error("give PATH or --synthetic N_FILES")
    scratch = Path(tempfile.mkdtemp(prefix="sqlalint-bench-"))
    try:
        root = synthetic(scratch, args.synthetic) if args.synthetic else args.path.resolve()
        files = python_files(root)
        lines = sum(p.read_bytes().count(b"\n") for p in files)
        base = [args.sqlalint, "check", "--isolated", "--quiet", "--exit-zero"]
        if args.jobs:
            base += ["--jobs", str(args.jobs)]
        alone = scratch / "alone"  # its own project: not the caches the other runs fill
        alone.mkdir()
        small = alone / "small.py"
        small.write_text("from sqlalchemy import create_engine\n\nengine = create_engine('sqlite://')\n")

        runs: list[list[tuple[float, float]]] = []
        for attempt in range(max(1, args.repeat)):
            cache = scratch / f"cache{attempt}"
            runs.append([reference(files),
                         timed([*base, "--no-cache", "."], root),
                         timed([*base, "--cache-dir", str(cache), "."], root),
                         timed([*base, "--cache-dir", str(cache), "."], root),
                         timed([*base, "--no-cache", str(small)], alone)])
        # Each row's best wall and best CPU seconds over the attempts (as timeit does).
        ref, cold, first, cached, one = ((min(r[row][0] for r in runs), min(r[row][1] for r in runs))
                                         for row in range(5))

        print(f"machine: {os.cpu_count()} CPUs, Python {platform.python_version()}, {platform.system()}")
        print(f"target: {root if not args.synthetic else f'synthetic, {args.synthetic} modules'}: "
              f"{len(files)} files, {lines} lines")
        print(f"load average: {os.getloadavg()[0]:.1f} (CPU seconds are the steadier figure on a busy machine)")
        if args.repeat > 1:
            print(f"best of {args.repeat} interleaved runs")
        print(f"{'':37}{'wall s':>8}{'x ref':>8}{'CPU s':>8}{'x ref':>8}")
        for label, (wall, cpu) in (("ast.parse of every file (reference)", ref),
                                   ("sqlalint cold (--no-cache)", cold),
                                   ("sqlalint, filling the cache", first), ("sqlalint cached", cached),
                                   ("sqlalint on one small file", one)):
            print(f"{label:37}{wall:8.2f}{wall / ref[0]:8.2f}{cpu:8.2f}{cpu / ref[1]:8.2f}")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
