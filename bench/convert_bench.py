"""`convert` of archives of 20 bags: wall and CPU time with --jobs 1 and --jobs 2, and each worker's peak RSS.

    .venv/bin/python -m bench.convert_bench [--bags 20] [--sizes 6 30] [--jobs 1 2] [--repeat 3] [--docs]

The bags are bench.make_bags' RGB-D bags (1280x720 rgb8 or JPEG colour, 848x480 depth, CameraInfo), the four
variants (raw/JPEG, mcap/sqlite3) in turn, copied under nested folders of an archive in the cache. Each run
converts into a fresh folder, as a subprocess of the command line; each mode runs --repeat times, in rounds
(the machine may be shared), and the fastest run of each counts. CPU is every process's (the command and its
workers); per bag, the worker's (its main thread and rerun-sdk's writer thread), from the stamps.

Writes bench/results/convert.md, or with --docs the "## Batch conversion" section of docs/benchmarks.md
(`bench.run` writes it with the rest).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Sequence

from .make_bags import DATA_DIR, VARIANTS, BagSpec, ensure_bag
from .measure import REPO

RESULTS = REPO / "bench" / "results" / "convert.md"
DOCS = REPO / "docs" / "benchmarks.md"
TITLE = "## Batch conversion (`convert`, `bench/convert_bench.py`)"


@dataclass(frozen=True)
class ConvertRun:
    size_mb: int  # of each bag of the archive
    jobs: int
    status: int
    wall_s: float
    cpu_s: float  # the command's and its workers'
    load: float  # the machine's load average as the run began
    converted: int
    frames: int
    bag_wall_s: float  # summed over the bags
    bag_cpu_s: float
    worker_peak_rss_mb: float


def archive(bags: int, size_mb: int, data_dir: Path = DATA_DIR) -> Path:
    root = data_dir / f"convert-archive-{bags}x{size_mb}MB"
    if (root / "done").exists():
        return root
    shutil.rmtree(root, ignore_errors=True)
    sources = [ensure_bag(BagSpec.parse(variant, size_mb), data_dir).folder for variant in VARIANTS]
    for i in range(bags):
        target = root / f"robot_{i % 3}" / f"day_{i % 2}" / f"bag_{i:02d}"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copytree(sources[i % len(sources)], target, ignore=shutil.ignore_patterns("bench.json"))
    (root / "done").touch()
    return root


def run(root: Path, size_mb: int, jobs: int) -> ConvertRun:
    with tempfile.TemporaryDirectory(prefix="convert-bench-") as tmp:
        out = Path(tmp) / "out"
        load = os.getloadavg()[0]
        began, cpu = time.monotonic(), _children_cpu()
        done = subprocess.run([sys.executable, "-m", "bridge", "convert", "--no-progress", "-q", "--jobs", str(jobs), str(root), "-o", str(out)],
                              cwd=REPO)  # fmt: skip
        wall, cpu = time.monotonic() - began, _children_cpu() - cpu
        stamps = [json.loads(p.read_text()) for p in out.rglob(".*.rrd.json")]
        return ConvertRun(size_mb, jobs, done.returncode, round(wall, 2), round(cpu, 2), round(load, 1), len(stamps),
                          sum(s["frames"] for s in stamps), round(sum(s["seconds"] for s in stamps), 2),
                          round(sum(s["cpu_seconds"] for s in stamps), 2), max((s["worker_peak_rss_mb"] for s in stamps), default=0.0))  # fmt: skip


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)  # of the command and its workers, once they ended
    return usage.ru_utime + usage.ru_stime


def measure(sizes: Sequence[int] = (6, 30), bags: int = 20, jobs: Sequence[int] = (1, 2), repeat: int = 3,
            data_dir: Path = DATA_DIR) -> list[ConvertRun]:
    """The fastest run of each archive size and --jobs, of `repeat` rounds over all of them."""
    roots = {size: archive(bags, size, data_dir) for size in sizes}
    runs: list[ConvertRun] = []
    for _ in range(repeat):  # rounds rather than one case's runs in a row: load comes in bursts
        for size in sizes:
            for n in jobs:
                runs.append(run(roots[size], size, n))
                print(json.dumps(asdict(runs[-1])), flush=True)
    return [min((r for r in runs if (r.size_mb, r.jobs) == case), key=lambda r: r.wall_s) for case in dict.fromkeys((r.size_mb, r.jobs) for r in runs)]


def speedups(runs: Sequence[ConvertRun]) -> list[tuple[int, float, float]]:
    """Per archive: (bag size, --jobs 2 over --jobs 1, the most the CPU time of --jobs 2 allows on 2 cores)."""
    out = []
    for size in dict.fromkeys(r.size_mb for r in runs):
        one = next((r for r in runs if (r.size_mb, r.jobs) == (size, 1)), None)
        two = next((r for r in runs if (r.size_mb, r.jobs) == (size, 2)), None)
        if one and two:
            out.append((size, one.wall_s / two.wall_s, one.wall_s / (two.cpu_s / 2)))
    return out


def section(runs: Sequence[ConvertRun]) -> str:
    """The "## Batch conversion" section of docs/benchmarks.md."""
    from .report import table

    rows = [(f"20 x {r.size_mb} MB", str(r.jobs), f"{r.wall_s:.2f}", f"{r.cpu_s:.2f}", f"{r.bag_wall_s:.2f}", f"{r.bag_cpu_s:.2f}",
             f"{(r.cpu_s - r.bag_cpu_s) / r.jobs:.2f}", f"{r.worker_peak_rss_mb:.0f}", f"{r.converted}", f"{r.load:.1f}") for r in runs]  # fmt: skip
    lines = [TITLE, "",
             table(("archive", "--jobs", "wall s", "CPU s", "bags' wall s", "bags' CPU s", "CPU s outside bags, per worker",
                    "worker peak RSS MB", "converted", "load"), rows), ""]  # fmt: skip
    for size, speedup, bound in speedups(runs):
        lines.append(f"- 20 x {size} MB: --jobs 2 is {speedup:.2f}x --jobs 1; its CPU time allows at most {bound:.2f}x on 2 cores.")
    for one in (r for r in runs if r.jobs == 1 and r.bag_wall_s > 0):
        busy = one.bag_cpu_s / one.bag_wall_s
        lines.append(f"- 20 x {one.size_mb} MB: one bag's conversion keeps {busy:.2f} cores busy (bags' CPU s over bags' wall s, "
                     f"--jobs 1: the worker's main thread and rerun-sdk's writer beside it), so two at once on 2 cores "
                     f"are at most {2 / busy:.2f}x one, before any start-up.")  # fmt: skip
    cores = len(os.sched_getaffinity(0))
    if max(r.load for r in runs) >= cores:
        lines += ["", f"The load average (last column: one minute's, as the run began) reached the {cores} cores. It counts "
                      "the bench's own previous runs too, but where other work ran, --jobs 2 competed with it for its "
                      "second core and its speed-up is low; the CPU times are not."]  # fmt: skip
    lines += ["", "Fastest of N rounds. CPU s: the command's and its workers'; bags' CPU s: summed over the bags, each "
              "the worker's main thread and rerun-sdk's writer thread (which compresses every chunk with LZ4 beside it). "
              "CPU outside bags: mostly each worker's start (a fresh interpreter importing rerun-sdk, numpy, pyarrow "
              "and rosbags; the command's own start is shared out), paid once by --jobs 1 and twice by --jobs 2 "
              "on the same cores. Each worker imports rerun-sdk itself: rerun-sdk starts threads when imported (a tokio runtime, "
              "jemalloc's), so a worker cannot be forked from a process that has imported it."]  # fmt: skip
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.convert_bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("--bags", type=int, default=20)
    parser.add_argument("--sizes", type=int, nargs="+", default=[6, 30], metavar="MB", help="size of each bag, per archive")
    parser.add_argument("--jobs", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--repeat", type=int, default=3, help="rounds over every case; the fastest run of each counts")
    parser.add_argument("--docs", action="store_true", help="write the section into docs/benchmarks.md")
    args = parser.parse_args(argv)
    print(f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}")
    text = section(measure(args.sizes, args.bags, args.jobs, args.repeat))
    print(text)
    from .report import write_section

    write_section(text, DOCS if args.docs else RESULTS)
    return 0


if __name__ == "__main__":
    sys.exit(main())
