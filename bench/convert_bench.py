"""`convert` of an archive of 20 bags: wall and CPU time with --jobs 1 and --jobs 2, and each worker's peak RSS.

The bags are bench.make_bags' RGB-D bags (1280x720 rgb8 or JPEG colour, 848x480 depth, CameraInfo), a few MB
each, the four variants (raw/JPEG, mcap/sqlite3) in turn, copied under nested folders of an archive in the
cache. Each run converts into a fresh folder, as a subprocess of the command line; each mode runs --repeat
times, alternating, and the fastest run of each counts (the machine may be shared). CPU is every process's
(the command and its workers); per bag, the worker's (its main thread and rerun-sdk's writer), from the
stamps. On N cores, N workers cannot end before their CPU time / N: the bound printed is the speed-up
that allows.

    python -m bench.convert_bench [--bags 20] [--size-mb 6] [--jobs 1 2] [--repeat 3]
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
from pathlib import Path

from .make_bags import DATA_DIR, VARIANTS, BagSpec, ensure_bag


def archive(bags: int, size_mb: int) -> Path:
    root = DATA_DIR / f"convert-archive-{bags}x{size_mb}MB"
    if (root / "done").exists():
        return root
    shutil.rmtree(root, ignore_errors=True)
    sources = [ensure_bag(BagSpec.parse(variant, size_mb)).folder for variant in VARIANTS]
    for i in range(bags):
        target = root / f"robot_{i % 3}" / f"day_{i % 2}" / f"bag_{i:02d}"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copytree(sources[i % len(sources)], target, ignore=shutil.ignore_patterns("bench.json"))
    (root / "done").touch()
    return root


def run(root: Path, jobs: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="convert-bench-") as tmp:
        out = Path(tmp) / "out"
        load = os.getloadavg()[0]
        began, cpu = time.monotonic(), _children_cpu()
        done = subprocess.run([sys.executable, "-m", "bridge", "convert", "--no-progress", "-q", "--jobs", str(jobs), str(root), "-o", str(out)])
        wall, cpu = time.monotonic() - began, _children_cpu() - cpu
        stamps = [json.loads(p.read_text()) for p in out.rglob(".*.rrd.json")]
        return {"jobs": jobs, "status": done.returncode, "wall_s": round(wall, 2), "cpu_s": round(cpu, 2), "load": round(load, 1),
                "converted": len(stamps), "frames": sum(s["frames"] for s in stamps),
                "bag_wall_s": round(sum(s["seconds"] for s in stamps), 2), "bag_cpu_s": round(sum(s["cpu_seconds"] for s in stamps), 2),
                "worker_peak_rss_mb": max(s["worker_peak_rss_mb"] for s in stamps)}  # fmt: skip


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)  # of the command and its workers, once they ended
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bags", type=int, default=20)
    parser.add_argument("--size-mb", type=int, default=6)
    parser.add_argument("--jobs", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--repeat", type=int, default=3, help="runs of each mode; the fastest counts")
    args = parser.parse_args()
    root = archive(args.bags, args.size_mb)
    size = sum(p.stat().st_size for p in root.rglob("*") if p.is_file())
    cores = len(os.sched_getaffinity(0))
    print(f"{args.bags} bags, {size / 1e6:.0f} MB, in {root}; {cores} cores, load average {os.getloadavg()[0]:.1f}")
    runs: dict[int, list[dict]] = {jobs: [] for jobs in args.jobs}
    for _ in range(args.repeat):
        for jobs in args.jobs:
            runs[jobs].append(run(root, jobs))
            print(json.dumps(runs[jobs][-1]))
    best = [min(runs[jobs], key=lambda r: r["wall_s"]) for jobs in args.jobs]
    print("fastest of each:")
    for r in best:
        print(json.dumps(r))
    if len(best) > 1:
        first, last = best[0], best[-1]
        floor = last["cpu_s"] / min(last["jobs"], cores)  # the CPU time of that run, shared by its workers at best
        print(f"speed-up --jobs {last['jobs']} over --jobs {first['jobs']}: {first['wall_s'] / last['wall_s']:.2f}x "
              f"(bound on {cores} cores from the CPU time: {first['wall_s'] / floor:.2f}x)")


if __name__ == "__main__":
    main()
