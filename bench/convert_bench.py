"""`convert` of an archive of 20 bags: wall time with --jobs 1 and --jobs 2, and each worker's peak RSS.

The bags are bench.make_bags' RGB-D bags (1280x720 rgb8 or JPEG colour, 848x480 depth, CameraInfo), a few MB
each, the four variants (raw/JPEG, mcap/sqlite3) in turn, copied under nested folders of an archive in the
cache. Each run converts into a fresh folder, as a subprocess of the command line.

    python -m bench.convert_bench [--bags 20] [--size-mb 6] [--jobs 1 2]
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
        began, cpu = time.monotonic(), _children_cpu()
        done = subprocess.run([sys.executable, "-m", "bridge", "convert", "--no-progress", "-q", "--jobs", str(jobs), str(root), "-o", str(out)])
        wall, cpu = time.monotonic() - began, _children_cpu() - cpu
        stamps = [json.loads(p.read_text()) for p in out.rglob(".*.rrd.json")]
        return {"jobs": jobs, "status": done.returncode, "wall_s": round(wall, 2), "cpu_s": round(cpu, 2), "converted": len(stamps),
                "frames": sum(s["frames"] for s in stamps), "bag_s_sum": round(sum(s["seconds"] for s in stamps), 2),
                "worker_peak_rss_mb": max(s["worker_peak_rss_mb"] for s in stamps)}  # fmt: skip


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)  # of the command and its workers, once they ended
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bags", type=int, default=20)
    parser.add_argument("--size-mb", type=int, default=6)
    parser.add_argument("--jobs", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    root = archive(args.bags, args.size_mb)
    size = sum(p.stat().st_size for p in root.rglob("*") if p.is_file())
    print(f"{args.bags} bags, {size / 1e6:.0f} MB, in {root}; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    results = [run(root, jobs) for jobs in args.jobs]
    for r in results:
        print(json.dumps(r))
    if len(results) > 1:
        print(f"speed-up --jobs {results[-1]['jobs']} over --jobs {results[0]['jobs']}: {results[0]['wall_s'] / results[-1]['wall_s']:.2f}x")


if __name__ == "__main__":
    main()
