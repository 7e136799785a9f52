"""Replay benchmark: the bridge against Rerun's own MCAP importer, a naive script and `cp`, bag by bag.

Every tool runs as its own process on the same bag, read from the page cache
(the bag is read once beforehand, so the first tool is not penalised), and
writes to the same output directory; a run ends when its output is synced to
disk, and outputs are deleted once measured.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from .make_bags import BenchBag
from .measure import BenchError, Measurement, run_measured

RERUN = Path(sys.executable).with_name("rerun")  # the `rerun` CLI of rerun-sdk, in the same environment
OURS = "ros2-rerun-bridge"
RERUN_IMPORTER = "rerun mcap convert"
NAIVE = "naive rosbags + rr.log"
CP = "cp"

Command = Callable[[BenchBag, Path], list]


@dataclass(frozen=True)
class Tool:
    name: str
    slug: str  # for output file names
    command: Command
    mcap_only: bool = False
    suffix: str = ".rrd"

    def applies(self, bag: BenchBag) -> bool:
        return not self.mcap_only or bag.spec.storage == "mcap"

    def output(self, bag: BenchBag, out_dir: Path) -> Path:
        return out_dir / f"{bag.spec.name}.{self.slug}{self.suffix}"


TOOLS = (
    Tool(CP, "cp", lambda bag, out: ["cp", bag.storage_file, out], suffix=".copy"),
    Tool(RERUN_IMPORTER, "rerun", lambda bag, out: [RERUN, "mcap", "convert", bag.storage_file, "-o", out], mcap_only=True),
    Tool(OURS, "ours", lambda bag, out: [sys.executable, "-m", "bridge", "replay", bag.folder, "-o", out, "--no-progress"]),
    Tool(NAIVE, "naive", lambda bag, out: [sys.executable, "-m", "bench.naive_convert", bag.folder, out]),
)


@dataclass(frozen=True)
class ReplayResult:
    bag: BenchBag
    bag_mb: float
    tool: str
    run: Measurement
    output_mb: float

    @property
    def mb_per_s(self) -> float:
        return self.bag_mb / self.run.wall_s

    @property
    def frames_per_s(self) -> float:
        return self.bag.images / self.run.wall_s


def run_replay(bags: Sequence[BenchBag], out_dir: Path, repeat: int = 1, report: Callable[[str], None] = print) -> list[ReplayResult]:
    """Every applicable tool on every bag; of `repeat` runs, the fastest successful one is kept."""
    out_dir.mkdir(parents=True, exist_ok=True)
    results = []
    for bag in bags:
        bag_mb = bag.file_bytes / 1e6
        warm_page_cache(bag.storage_file)
        for tool in TOOLS:
            if tool.applies(bag):
                result = measure_tool(tool, bag, bag_mb, out_dir, repeat)
                report(describe(result))
                results.append(result)
    return results


def measure_tool(tool: Tool, bag: BenchBag, bag_mb: float, out_dir: Path, repeat: int) -> ReplayResult:
    output = tool.output(bag, out_dir)
    best: ReplayResult | None = None
    for _ in range(repeat):
        output.unlink(missing_ok=True)
        run = run_measured(durable(tool.command(bag, output), output))
        output_mb = output.stat().st_size / 1e6 if output.exists() else 0.0
        output.unlink(missing_ok=True)
        result = ReplayResult(bag, bag_mb, tool.name, run, output_mb)
        if best is None or (run.ok and (not best.run.ok or run.wall_s < best.run.wall_s)):
            best = result
    assert best is not None, "repeat must be at least 1"
    return best


def durable(command: list, output: Path) -> list:
    """`command`, then `sync` of its output: a tool is done when its output is on disk.

    Without it, `cp` of a bag that fits in RAM measures the page cache (memory speed), not the disk's limit.
    """
    return ["sh", "-c", 'out="$1"; shift; "$@" && sync "$out"', "sh", output, *command]


def describe(result: ReplayResult) -> str:
    run = result.run
    if not run.ok:
        return f"{result.bag.spec.name:<22} {result.tool:<24} FAILED {run.failure()}"
    return (
        f"{result.bag.spec.name:<22} {result.tool:<24} {run.wall_s:6.2f} s {result.mb_per_s:7.0f} MB/s "
        f"{result.frames_per_s:7.0f} frames/s  peak RSS {run.peak_rss_mb:6.0f} MB"
    )


def warm_page_cache(path: Path, chunk: int = 16 << 20) -> None:
    """Read the file once so that every tool finds it in the page cache."""
    with path.open("rb", buffering=0) as file:
        while file.read(chunk):
            pass


def find(results: Sequence[ReplayResult], bag: BenchBag, tool: str) -> ReplayResult | None:
    """The successful result of `tool` on `bag`, if any."""
    return next((r for r in results if r.bag == bag and r.tool == tool and r.run.ok), None)


def thread_cpu(bag: BenchBag, out_dir: Path) -> dict[str, Measurement]:
    """One run each of the bridge and Rerun's importer on `bag`, with the CPU seconds of each of their threads.

    It shows which thread bounds each tool: both end in rerun-sdk's file writer (encoding, LZ4, writing), which
    is single-threaded. Not synced to disk (a sync is no thread's CPU), so wall times are a little shorter.
    """
    runs = {}
    for tool in (t for t in TOOLS if t.name in (OURS, RERUN_IMPORTER) and t.applies(bag)):
        output = tool.output(bag, out_dir)
        warm_page_cache(bag.storage_file)
        try:
            runs[tool.name] = run = run_measured(tool.command(bag, output), threads=True)
        finally:
            output.unlink(missing_ok=True)
        if not run.ok:
            raise BenchError(f"{tool.name} on {bag.spec.name} failed: {run.failure()}")
    return runs


def profile_phases(bag: BenchBag, out_dir: Path) -> dict[str, float]:
    """Seconds per phase of one replay of `bag` (see `bench/profile_replay.py`)."""
    output = out_dir / f"{bag.spec.name}.profile.rrd"
    warm_page_cache(bag.storage_file)  # as for the timed runs: reading is then the reader's cost, not the disk's
    try:
        run = run_measured([sys.executable, "-m", "bench.profile_replay", bag.folder, output])
    finally:
        output.unlink(missing_ok=True)
    if not run.ok:
        raise BenchError(f"profiling the replay of {bag.spec.name} failed: {run.failure()}")
    return json.loads(run.stdout)


def startup_floor(bag: BenchBag, out_dir: Path, repeat: int = 5) -> dict[str, Measurement]:
    """What a run costs before a bag's size counts, the fastest of `repeat` each: Python importing pyarrow (the
    least a Python tool handing Arrow to rerun-sdk's bindings imports) and rerun-sdk, and the bridge replaying
    the first millisecond of `bag` (start-up, the bag opened, a frame per topic, the recording closed)."""
    output = out_dir / f"{bag.spec.name}.startup.rrd"
    commands = {
        'python -c "import pyarrow"': [sys.executable, "-c", "import pyarrow"],
        'python -c "import rerun"': [sys.executable, "-c", "import rerun"],
        f"{OURS} replay, the bag's first millisecond": [sys.executable, "-m", "bridge", "replay", bag.folder, "-o", output,
                                                         "--no-progress", "--end", "0.001"],  # fmt: skip
    }
    floor = {}
    for label, command in commands.items():
        runs = []
        for _ in range(repeat):
            runs.append(run := run_measured(command))
            output.unlink(missing_ok=True)
            if not run.ok:
                raise BenchError(f"{label} failed: {run.failure()}")
        floor[label] = min(runs, key=lambda r: r.wall_s)
    return floor

