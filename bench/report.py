"""The machine description, the result tables and `docs/benchmarks.md`, with a plot when matplotlib is there."""

from __future__ import annotations

import os
import platform
import re
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

from .dds_load import COLOUR_SIZE, DEPTH_SIZE, RATE_HZ
from .live_bench import BRIDGE_MARGIN_S, ConversionCost, DdsLoad
from .make_bags import BenchBag
from .measure import Measurement
from .replay_bench import CP, NAIVE, OURS, RERUN_IMPORTER, ReplayResult, find
from .targets import MAX_PEAK_RSS_MB, Target

if TYPE_CHECKING:
    from .convert_bench import ConvertRun
    from .rectify_bench import Cost
    from .video_bench import VideoResults

PLOTTED_TOOLS = (OURS, RERUN_IMPORTER, NAIVE)
COLOUR_FRAME_BYTES = COLOUR_SIZE[0] * COLOUR_SIZE[1] * 3  # rgb8
CAMERA_BYTES_PER_S = (COLOUR_FRAME_BYTES + DEPTH_SIZE[0] * DEPTH_SIZE[1] * 2) * RATE_HZ  # rgb8 + 16UC1
MIN_THREAD_CPU_S = 0.1
THREAD_ROLES = {
    "file_writer": "rerun-sdk: encodes (LZ4) and writes the .rrd",
    "ChunkBatcher::c": "rerun-sdk: batches rows into chunks",
    "recv": "Cyclone DDS: receives and reassembles samples",
    "recvUC": "Cyclone DDS: receives (unicast)",
    "recvMC": "Cyclone DDS: receives (multicast)",
    "tev": "Cyclone DDS: timed events (heartbeats, ...)",
    "dq.builtins": "Cyclone DDS: discovery",
    "python": "the interpreter: DDS take, CDR decode, conversion, rr.log",
}

HOW_TO_RUN = f"""\
## How to run

    .venv/bin/python -m bench.run --docs     # the full suite, a few minutes to an hour
    .venv/bin/python -m bench.run --quick    # one ~200 MB size, shorter live runs
    .venv/bin/python -m bench.run --sizes 500 8000 --variants raw-mcap --repeat 5 --no-dds

With `--docs` it writes this file and `docs/benchmarks.png` (the plot needs matplotlib:
`pip install -e '.[bench]'`); without, the same into `bench/results/`. What it does:

- **Bags** (`bench/make_bags.py`, into `~/.cache/ros2_rerun_bridge/bench/`, reused when present): one RGB-D camera at
  30 Hz, 1280x720 rgb8 colour (variant `raw`) or the same frames as JPEG CompressedImage (`jpeg`),
  848x480 16UC1 depth and a CameraInfo for each, in MCAP or sqlite3 storage. MCAP chunks are not
  compressed, as `ros2 bag record`'s default. A few frames are pre-rendered and reused with the
  sequence number stamped into their pixels (JPEG frames are reused as encoded).
- **Replay** (`bench/replay_bench.py`): each tool is its own process on the same bag, which is read
  once beforehand so that every tool finds it in the page cache, writing to the same disk
  (`out/` beside the bags, outputs deleted once measured); of `--repeat` runs the fastest is kept.
  Tools: `ros2-rerun-bridge replay BAG -o out.rrd --no-progress`; `rerun mcap convert` (Rerun's
  native importer, MCAP only); a naive script (`bench/naive_convert.py`: rosbags AnyReader,
  deserialize, one `rr.log` per message); and `cp` of the bag file (the storage's limit: with bags
  smaller than free RAM, this is the page cache's speed, not the disk's). Frames/s counts Image and
  CompressedImage messages. Peak RSS is the tool process's own (GNU time, or VmHWM polling).
- **Live conversion** (`bench/live_bench.py`): `Bridge.handle` on already-deserialized messages,
  recording to a file, all cases through one bridge in that order. "First" is a case's first
  message, which also pays for modules imported on first use; the statistics are of the following
  ones. Rerun logs asynchronously: "sustained" adds the final flush to the calls, so it is what a
  stream costs once the file sink has to keep up; "with CDR" times `handle_cdr`, which also
  deserializes, as the DDS transport does.
- **DDS load** (`bench/dds_load.py`): `ros2-rerun-bridge live` against N cameras (1920x1080 rgb8 +
  848x480 16UC1 and a CameraInfo for each, 30 Hz, best effort) in another process, Cyclone DDS on
  loopback only with a random ROS_DOMAIN_ID. Frames are serialized once and re-stamped when sent, so
  that the publisher keeps its rate and latency is end to end (sent to logged).
  Run with the field notes' configuration as is, then with Cyclone's socket receive buffer raised
  to `net.core.rmem_max`, then with that buffer and one camera fewer down to one (what the machine
  sustains). "Lost" frames were sent but never received (best effort over UDP); "dropped" ones were
  received but replaced in the bridge's queue by newer ones. The bridge runs for the load plus
  {BRIDGE_MARGIN_S:g} s (both start-ups, matching), idle at the end: compare CPU seconds. Its CPU by
  thread is sampled from `/proc` over its whole run (threads named alike are summed; Python's are
  all "python", start-up included).
- **One camera from real ROS 2** (`bench/ros2_bench.py`, where rclpy is installed: `test/ros2/install.sh`):
  the rclpy camera of the tests (`test/ros2_camera.py`: 1280x720 rgb8, 640x480 16UC1 and two CameraInfo
  at 30 Hz, reliable, over Fast DDS on loopback) into the ROS 2 node (Fast DDS, socket receive buffer
  32 MiB as the README advises, capped by `net.core.rmem_max`) and into `live` (Cyclone DDS with the
  bridge's own settings). The camera streams 2 s after it sees its subscribers: Fast DDS's writer can see
  Cyclone's reader before that reader has matched it, and frames sent in between are lost to discovery
  (with 0.5 s, the first 17 of 300 into `live`, none later). Latency runs from the DDS source timestamp to logging.
- **Video** (`bench/video_bench.py`, where PyAV is installed: `pip install -e '.[video]'`): .rrd sizes of the
  RGB-D bench bag and the demo with colour as H.264 and depth raw, PNG or RVL, against raw and JPEG pass-through;
  PSNR of the H.264 read back; encoder frames/s per codec and preset. `python -m bench.video_bench --docs`
  rewrites only that section.
- **Camera geometry** (`bench/rectify_bench.py`, `bench/rgbd_bench.py`): milliseconds per frame of the bridge's
  pure functions on synthetic frames: rectification's `remap` (bilinear for colour with the faster of OpenCV's
  float or fixed-point tables, nearest neighbour for depth) over a strong plumb_bob calibration, the ways to
  remap compared at 1080p (`remap, compared`: float against fixed-point tables per pixel type, padded rows
  copied first or read as a view, one OpenCV thread), and building its maps; depth registration into a colour
  camera 5 cm away and coloured clouds. Minimum and median of N runs.
- **Batch conversion** (`bench/convert_bench.py`): `convert` of two archives of 20 bags (the four variants, under
  nested folders) with `--jobs 1` and `--jobs 2`: wall and CPU time, per bag and fixed, and each worker's peak
  RSS; fastest of N rounds. `python -m bench.convert_bench --docs` rewrites only that section.
"""


@dataclass(frozen=True)
class DdsRun:
    label: str  # the Cyclone DDS configuration
    load: DdsLoad


@dataclass
class Results:
    """Everything one run of the suite measured, filled in part by part."""

    bags: list[BenchBag] = field(default_factory=list)
    replay: list[ReplayResult] = field(default_factory=list)
    profiles: dict[str, dict[str, float]] = field(default_factory=dict)  # bag name -> seconds per phase of a replay
    replay_threads: dict[str, dict[str, Measurement]] = field(default_factory=dict)  # bag name -> tool -> run by thread
    startup: dict[str, Measurement] = field(default_factory=dict)  # what runs cost before a bag's size counts
    conversions: list[ConversionCost] = field(default_factory=list)
    dds: list[DdsRun] = field(default_factory=list)
    ros2: dict[str, DdsLoad] = field(default_factory=dict)  # "node" / "live" -> one rclpy camera into it
    video: VideoResults | None = None
    geometry: list[Cost] = field(default_factory=list)  # rectification, registration and clouds per frame
    convert: list[ConvertRun] = field(default_factory=list)  # the fastest run per archive and --jobs
    targets: list[Target] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what was skipped and why, and the caller's remarks


def machine(data_dir: Path) -> dict[str, str]:
    return {
        "CPU": _cpu_model(),
        "cores": str(os.cpu_count()),
        "RAM": f"{_meminfo_kib('MemTotal') * 1024 / 1e9:.1f} GB",
        "OS": platform.platform(),
        "Python": platform.python_version(),
        **{package: _version(package) for package in ("rerun-sdk", "rosbags", "cyclonedds", "numpy")},
        "disk (bags and outputs)": _disk(data_dir),
    }


def _cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def _meminfo_kib(field: str) -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def _disk(path: Path) -> str:
    """The device and filesystem holding `path`, and whether it is rotational."""
    path = path.resolve()
    mounts = [line.split()[:3] for line in Path("/proc/mounts").read_text().splitlines()]
    device, mount_point, fs_type = max(
        (m for m in mounts if path.is_relative_to(m[1])), key=lambda m: len(m[1]), default=("?", "/", "?")
    )
    rotational = Path(f"/sys/class/block/{Path(device).name}/queue/rotational")
    kind = {"0": "SSD", "1": "rotational"}.get(rotational.read_text().strip(), "?") if rotational.exists() else "?"
    return f"{device} on {mount_point} ({fs_type}, {kind})"


# -- tables -----------------------------------------------------------------------------------------


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def targets_table(targets: Sequence[Target]) -> str:
    rows = [(t.name, t.measured, "PASS" if t.passed else "**FAIL**", t.margin) for t in targets]
    return table(("target", "measured", "result", "margin"), rows)


def replay_table(results: Sequence[ReplayResult]) -> str:
    rows = []
    for r in results:
        if not r.run.ok:
            rows.append((r.bag.spec.name, r.tool, f"failed: {r.run.failure()}", "", "", "", "", ""))
            continue
        rows.append((
            r.bag.spec.name, r.tool, f"{r.run.wall_s:.2f}", f"{r.mb_per_s:.0f}", f"{r.frames_per_s:.0f}",
            f"{r.run.cpu_s:.2f}", f"{r.run.peak_rss_mb:.0f}", f"{r.output_mb:.0f}",
        ))  # fmt: skip
    headers = ("bag", "tool", "wall s", "MB/s", "frames/s", "CPU s", "peak RSS MB", "output MB")
    return table(headers, rows)


def ratios_table(results: Sequence[ReplayResult], bags: Sequence[BenchBag]) -> str:
    """Per bag: the bridge's speed relative to Rerun's importer and the naive script, and its time relative to cp."""

    def speedup(bag: BenchBag, other: str) -> str:
        ours, them = find(results, bag, OURS), find(results, bag, other)
        return f"{them.run.wall_s / ours.run.wall_s:.2f}x" if ours and them else "-"

    def slowdown_vs_cp(bag: BenchBag) -> str:
        ours, cp = find(results, bag, OURS), find(results, bag, CP)
        return f"{ours.run.wall_s / cp.run.wall_s:.1f}x" if ours and cp else "-"

    rows = [(bag.spec.name, f"{bag.file_bytes / 1e6:.0f}", bag.images, speedup(bag, RERUN_IMPORTER), speedup(bag, NAIVE),
             slowdown_vs_cp(bag)) for bag in bags]  # fmt: skip
    headers = ("bag", "MB", "frames", "ours vs rerun importer (speed)", "ours vs naive (speed)", "ours vs cp (time)")
    return table(headers, rows)


def marginal_table(results: Sequence[ReplayResult]) -> str | None:
    """MB/s between the smallest and the largest bag of each variant: start-up costs cancel out."""
    rows = []
    for variant in sorted({r.bag.spec.variant for r in results}):
        for tool in PLOTTED_TOOLS:
            runs = sorted((r for r in results if r.bag.spec.variant == variant and r.tool == tool and r.run.ok),
                          key=lambda r: r.bag_mb)  # fmt: skip
            if len(runs) >= 2 and runs[-1].run.wall_s > runs[0].run.wall_s:
                small, large = runs[0], runs[-1]
                speed = (large.bag_mb - small.bag_mb) / (large.run.wall_s - small.run.wall_s)
                rows.append((variant, tool, f"{small.bag_mb:.0f} -> {large.bag_mb:.0f}", f"{speed:.0f}"))
    return table(("variant", "tool", "bag MB", "marginal MB/s"), rows) if rows else None


def profile_table(profiles: dict[str, dict[str, float]]) -> str:
    bags = list(profiles)
    phases = list(next(iter(profiles.values())))
    rows = [(phase, *(_share(profiles[bag][phase], profiles[bag]["total"]) for bag in bags)) for phase in phases]
    return table(("phase (main thread)", *bags), rows)


def replay_threads_table(runs: dict[str, dict[str, Measurement]], most: int = 4) -> str:
    rows = []
    for bag, by_tool in runs.items():
        for tool, run in by_tool.items():
            busiest = ", ".join(f"{name} {cpu:.2f}" for name, cpu in list(run.thread_cpu_s.items())[:most])
            rows.append((bag, tool, f"{run.wall_s:.2f}", f"{run.cpu_s:.2f}", busiest))
    return table(("bag", "tool", "wall s", "CPU s", f"busiest threads (CPU s, up to {most})"), rows)


def startup_table(startup: dict[str, Measurement]) -> str:
    return table(("command", "wall s", "CPU s"), [(label, f"{run.wall_s:.2f}", f"{run.cpu_s:.2f}") for label, run in startup.items()])


def writer_bound(startup: dict[str, Measurement], replay: Sequence[ReplayResult]) -> str:
    """Why the importer wins on small bags, with this run's numbers."""
    rerun_import = next((run.wall_s for label, run in startup.items() if "import rerun" in label), None)
    smallest = min((r for r in replay if r.tool == RERUN_IMPORTER and r.run.ok), key=lambda r: r.bag_mb, default=None)
    text = """Both tools end in rerun-sdk's file writer: one thread (`file_writer` in the bridge; in the
importer, its main thread `rerun`, which also builds the chunks) that encodes each chunk, LZ4-compresses it
and writes it, busy for nearly the whole run (perf: about half of it in LZ4, the same work in both). The
bridge's writer starts only once Python has imported rerun-sdk"""
    if rerun_import is not None:
        text += f""" (`python -c "import rerun"`: {rerun_import:.2f} s here, before any bag is
opened; see "Start-up" below)"""
    text += """; the importer's starts at once. So the bridge's main thread, which has time to spare, is not
what bounds it: the bridge gains on the importer only where the importer slows with size (its memory grows
with the bag), and a bag whose whole import takes less than the bridge's start-up cannot be caught"""
    if smallest is not None:
        text += f" (here the importer converts {smallest.bag.spec.name} in {smallest.run.wall_s:.2f} s, synced)"
    return text + "."


def _share(seconds: float, total: float) -> str:
    return f"{seconds:.2f} s ({seconds / total * 100:.0f}%)" if total else f"{seconds:.2f} s"


def conversions_table(costs: Sequence[ConversionCost]) -> str:
    rows = [(c.case, f"{c.first_ms:.1f}", f"{c.median_ms:.3f}", f"{c.p99_ms:.2f}", f"{c.sustained_ms:.2f}",
             f"{c.with_cdr_median_ms:.3f}") for c in costs]  # fmt: skip
    return table(("message", "first ms", "median ms", "p99 ms", "sustained ms", "with CDR median ms"), rows)


def dds_table(runs: Sequence[DdsRun]) -> str:
    rows = []
    for run in runs:
        for t in run.load.topics:
            rows.append((run.label, run.load.cameras, t.topic, t.sent, t.lost, t.dropped, t.logged,
                         _ms(t.p50_ms), _ms(t.p99_ms)))  # fmt: skip
    return table(("DDS config", "cameras", "topic", "sent", "lost", "dropped", "logged", "p50 ms", "p99 ms"), rows)


def dds_process_table(runs: Sequence[DdsRun]) -> str:
    rows = []
    for run in runs:
        for name, process in (("ros2-rerun-bridge live", run.load.bridge), ("bench.dds_load", run.load.publisher)):
            rows.append((run.label, run.load.cameras, name, f"{process.wall_s:.1f}", f"{process.cpu_s:.1f}",
                         f"{process.peak_rss_mb:.0f}"))  # fmt: skip
    return table(("DDS config", "cameras", "process", "wall s", "CPU s", "peak RSS MB"), rows)


def dds_threads_table(runs: Sequence[DdsRun]) -> str | None:
    """The bridge's CPU by thread: which of them a load saturates (1.0 core = one thread's limit)."""
    rows = []
    for run in runs:
        for thread, cpu_s in run.load.bridge.thread_cpu_s.items():
            if cpu_s >= MIN_THREAD_CPU_S:
                rows.append((run.label, run.load.cameras, thread, THREAD_ROLES.get(thread, ""), f"{cpu_s:.1f}",
                             f"{cpu_s / run.load.seconds:.2f}"))  # fmt: skip
    if not rows:
        return None
    return table(("DDS config", "cameras", "thread", "what it does", "CPU s", "cores over the load"), rows)


def dds_write_rate(runs: Sequence[DdsRun], conversions: Sequence[ConversionCost]) -> str | None:
    """The load's data rate against what Rerun's file sink took of 1080p rgb8 frames in the conversion run."""
    rgb = next((c for c in conversions if c.case.startswith("rgb8 1920x1080")), None)
    if rgb is None or not runs:
        return None
    sink_mb_s = COLOUR_FRAME_BYTES / (rgb.sustained_ms / 1e3) / 1e6
    loads = ", ".join(f"{cameras} camera{'s' * (cameras > 1)}: {cameras * CAMERA_BYTES_PER_S / 1e6:.0f} MB/s"
                      for cameras in sorted({run.load.cameras for run in runs}))  # fmt: skip
    return (f"Rerun's file sink took 1080p rgb8 frames at {sink_mb_s:.0f} MB/s in the conversion run above "
            f"(\"sustained\"); the loads carry {loads} of pixels.")


def ros2_table(loads: dict[str, DdsLoad]) -> str:
    rows = []
    for bridge, load in loads.items():
        for t in load.topics:
            rows.append((bridge, t.topic, t.sent, t.received, t.logged, t.lost, t.dropped, _ms(t.p50_ms), _ms(t.p99_ms)))
    return table(("bridge", "topic", "published", "received", "logged", "lost in DDS", "dropped", "p50 ms", "p99 ms"), rows)


def geometry_table(costs: Sequence[Cost]) -> str:
    return table(("operation", "frame", "min ms", "median ms"),
                 [(c.operation, c.frame, f"{c.best_ms:.1f}", f"{c.median_ms:.1f}") for c in costs])  # fmt: skip


def _ms(value: float | None) -> str:
    return f"{value:.1f}" if value is not None else "-"


# -- the document -----------------------------------------------------------------------------------


def render(results: Results, machine_info: dict[str, str], date: str, command: str, plot: Path | None) -> str:
    parts = [
        "# Benchmarks",
        f"Generated by `{command}` on {date}. Regenerate rather than edit: this file is overwritten.",
        HOW_TO_RUN,
        "## Machine",
        table(("", ""), list(machine_info.items())),
        "## Targets",
        targets_table(results.targets) if results.targets else "No target was measured.",
    ]
    if results.replay:
        parts += ["## Replay", replay_table(results.replay), "### Ratios", ratios_table(results.replay, results.bags)]
        if marginal := marginal_table(results.replay):
            parts += ["### Throughput without start-up", marginal]
    if results.profiles:
        parts += ["### Where the bridge's time goes (one replay under cProfile, `bench/profile_replay.py`)",
                  profile_table(results.profiles)]  # fmt: skip
    if results.replay_threads:
        parts += ["### CPU by thread: the bridge and Rerun's importer (one run each, not synced)",
                  replay_threads_table(results.replay_threads), writer_bound(results.startup, results.replay)]  # fmt: skip
    if results.startup:
        parts += ["### Start-up: what a run costs before the bag's size counts (fastest of 5, not synced)",
                  startup_table(results.startup)]  # fmt: skip
    if results.conversions:
        parts += ["## Live: conversion cost per message", conversions_table(results.conversions)]
    if results.dds:
        parts += ["## Live: DDS load", dds_table(results.dds), dds_process_table(results.dds)]
        if threads := dds_threads_table(results.dds):
            parts += ["### The bridge's CPU by thread", threads]
        if rate := dds_write_rate(results.dds, results.conversions):
            parts.append(rate)
    if results.ros2:
        parts += ["## Live: one camera from a real ROS 2 publisher (`bench/ros2_bench.py`)", ros2_table(results.ros2)]
    if results.video is not None:
        from .video_bench import section  # PyAV is imported with it

        parts.append(section(results.video).rstrip("\n"))
    if results.geometry:
        parts += ["## Camera geometry: cost per frame", geometry_table(results.geometry)]
    if results.convert:
        from .convert_bench import section

        parts.append(section(results.convert).rstrip("\n"))
    if plot is not None:
        parts += ["## Throughput and memory against bag size", f"![throughput and peak RSS]({plot.name})"]
    if results.notes:
        parts += ["## Notes", "\n".join(f"- {note}" for note in results.notes)]
    return "\n\n".join(parts) + "\n"


def write_section(text: str, path: Path) -> None:
    """Into `path`: replacing the section `text` heads ("## Title", up to the next "## "), or appended."""
    path.parent.mkdir(parents=True, exist_ok=True)
    old = path.read_text(encoding="utf-8") if path.exists() else ""
    pattern = re.compile(rf"^{re.escape(text.splitlines()[0])}\n.*?(?=^## |\Z)", re.S | re.M)
    new = pattern.sub(lambda _: text + "\n", old, count=1) if pattern.search(old) else old + ("\n" if old else "") + text
    path.write_text(new, encoding="utf-8")


def plot_replay(results: Sequence[ReplayResult], path: Path) -> bool:
    """Throughput and peak RSS against bag size per tool and bag variant; False when matplotlib is absent."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    figure, (speed_axes, rss_axes) = plt.subplots(1, 2, figsize=(12, 4.5))
    variants = sorted({r.bag.spec.variant for r in results})
    styles = dict(zip(variants, ("-", "--", ":", "-.")))  # colour: the tool; line: the bag variant
    for colour, tool in zip(("tab:blue", "tab:orange", "tab:grey"), PLOTTED_TOOLS):
        for variant in variants:
            points = sorted((r.bag_mb, r.mb_per_s, r.run.peak_rss_mb) for r in results
                            if r.tool == tool and r.run.ok and r.bag.spec.variant == variant)  # fmt: skip
            if points:
                sizes, speeds, rss = zip(*points)
                style = {"color": colour, "linestyle": styles[variant], "marker": "o", "label": f"{tool} ({variant})"}
                speed_axes.plot(sizes, speeds, **style)
                rss_axes.plot(sizes, rss, **style)
    bag_sizes = sorted({r.bag.spec.size_mb for r in results})  # nominal: variants differ by a few MB
    for axes, label in ((speed_axes, "throughput (MB/s of bag)"), (rss_axes, "peak RSS (MB)")):
        axes.set_xscale("log")
        axes.set_xticks(bag_sizes, [str(size) for size in bag_sizes])
        axes.minorticks_off()
        axes.set_xlabel("bag size (MB)")
        axes.set_ylabel(label)
        axes.grid(True, alpha=0.3)
    rss_axes.axhline(MAX_PEAK_RSS_MB, color="red", linestyle="--", linewidth=1)
    speed_axes.legend(fontsize=7)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return True
