"""The benchmark suite in one command: bags, replay, live conversion, DDS load, video, targets, a report.

    .venv/bin/python -m bench.run [--quick] [--sizes MB ...] [--variants raw-mcap ...] [--repeat N] [--docs]

The report goes to bench/results/benchmarks.md, or with --docs to the committed docs/benchmarks.md;
see the latter for what is measured and how. Bags are generated into ~/.cache/ros2_rerun_bridge/bench.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Sequence

from . import report
from .live_bench import max_receive_buffer, measure_conversions, run_dds_load
from .make_bags import DATA_DIR, VARIANTS, BagSpec, BenchBag, ensure_bag
from .measure import REPO, BenchError, compile_bridge
from .replay_bench import profile_phases, run_replay, startup_floor, thread_cpu
from .ros2_bench import BRIDGES, has_rclpy, run_ros2_camera
from .dds_load import COLOUR_SIZE, DEPTH_SIZE
from .targets import (LIVE_CAMERA, LIVE_CAMERA_LABEL, conversion_target, convert_targets, dds_target, live_camera_target,
                      remap_target, replay_targets, ros2_target, video_targets)  # fmt: skip


RESULTS = REPO / "bench" / "results" / "benchmarks.md"  # ignored by git: a run's own results
DOCS = REPO / "docs" / "benchmarks.md"  # the committed report, rewritten only when asked


@dataclass(frozen=True)
class Settings:
    sizes: list[int]
    repeat: int
    conversions: int
    dds_seconds: float
    video_frames: int  # frames encoded per encoder speed measurement


FULL = Settings(sizes=[300, 1000, 4000], repeat=3, conversions=200, dds_seconds=10.0, video_frames=60)
QUICK = Settings(sizes=[200], repeat=1, conversions=50, dds_seconds=5.0, video_frames=20)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("--quick", action="store_true", help="one ~200 MB bag size, one run each, shorter live runs")
    parser.add_argument("--sizes", nargs="+", type=int, metavar="MB", help=f"bag sizes ({' '.join(map(str, FULL.sizes))})")
    parser.add_argument("--variants", nargs="+", choices=VARIANTS, default=["raw-mcap", "raw-sqlite3", "jpeg-mcap"],
                        metavar="VARIANT", help=f"bag kinds, of: {', '.join(VARIANTS)} (default: all but jpeg-sqlite3)")
    parser.add_argument("--repeat", type=int, metavar="N", help=f"runs per tool and bag, the fastest kept ({FULL.repeat})")
    parser.add_argument("--conversions", type=int, metavar="N", help=f"messages per live conversion case ({FULL.conversions})")
    parser.add_argument("--dds-seconds", type=float, metavar="S", help=f"length of the DDS load ({FULL.dds_seconds:g})")
    parser.add_argument("--cameras", type=int, default=2, metavar="N", help="RGB-D cameras in the DDS load (2)")
    parser.add_argument("--no-replay", action="store_true")
    parser.add_argument("--no-live", action="store_true", help="neither the conversion costs nor the DDS load")
    parser.add_argument("--no-dds", action="store_true")
    parser.add_argument("--no-video", action="store_true", help="not the video sizes, quality and encoder speeds")
    parser.add_argument("--no-geometry", action="store_true", help="not rectification, registration and clouds")
    parser.add_argument("--no-convert", action="store_true", help="not `convert` of two archives with 1 and 2 workers")
    parser.add_argument("--no-ros2", action="store_true", help="not the rclpy camera into the node and `live`")
    parser.add_argument("--data-dir", type=Path, default=DATA_DIR, metavar="DIR", help=f"bags and outputs ({DATA_DIR})")
    parser.add_argument("--report", type=Path, default=RESULTS, help=f"the report to write ({RESULTS.relative_to(REPO)})")
    parser.add_argument("--docs", dest="report", action="store_const", const=DOCS,
                        help=f"write the committed report, {DOCS.relative_to(REPO)}, with its plot")  # fmt: skip
    parser.add_argument("--note", action="append", default=[], help="a line for the report's notes (repeatable)")
    args = parser.parse_args(argv)
    if args.repeat is not None and args.repeat < 1:
        parser.error("--repeat must be at least 1")
    return args


def settings(args: argparse.Namespace) -> Settings:
    base = QUICK if args.quick else FULL
    return Settings(
        sizes=args.sizes or base.sizes,
        repeat=args.repeat or base.repeat,
        conversions=args.conversions or base.conversions,
        dds_seconds=args.dds_seconds or base.dds_seconds,
        video_frames=base.video_frames,
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    chosen = settings(args)
    results = report.Results(notes=list(args.note))
    compile_bridge()
    if not args.no_replay:
        run_replay_part(results, args, chosen)
    if not args.no_live:
        run_live_part(results, args, chosen)
    if not args.no_video:
        run_video_part(results, args, chosen)
    if not args.no_geometry:
        run_geometry_part(results)
    if not args.no_convert:
        run_convert_part(results, args, chosen)
    command = shlex.join(["python", "-m", "bench.run", *(sys.argv[1:] if argv is None else argv)])
    write_report(results, args.report, args.data_dir, command)
    if results.replay:
        section("Ratios")
        print(report.ratios_table(results.replay, results.bags))
    section("Targets")
    print(report.targets_table(results.targets))
    print(f"\nwrote {args.report}")
    return 0


def run_replay_part(results: report.Results, args: argparse.Namespace, chosen: Settings) -> None:
    out_dir = args.data_dir / "out"
    results.bags = [prepare_bag(BagSpec.parse(v, size), args.data_dir) for size in chosen.sizes for v in args.variants]
    section(f"Replay (fastest of {chosen.repeat})")
    results.replay = run_replay(results.bags, out_dir, chosen.repeat)
    results.targets += replay_targets(results.replay, results.bags)
    results.profiles, results.replay_threads = profile_largest(results.bags, out_dir, results.notes)
    section("Start-up (fastest of 5)")
    try:
        results.startup = startup_floor(min(results.bags, key=lambda bag: bag.file_bytes), out_dir)
        print(report.startup_table(results.startup))
    except BenchError as err:
        results.notes.append(str(err))


def run_live_part(results: report.Results, args: argparse.Namespace, chosen: Settings) -> None:
    out_dir = args.data_dir / "out"
    section(f"Live conversion ({chosen.conversions} messages per case)")
    results.conversions = measure_conversions(chosen.conversions, out_dir)
    print(report.conversions_table(results.conversions))
    results.targets.append(conversion_target(results.conversions))
    if not args.no_dds:
        results.dds = run_dds_loads(args.cameras, chosen.dds_seconds, out_dir, results.notes)
        for run in results.dds:
            if run.label.startswith(LIVE_CAMERA_LABEL):
                results.targets.append(live_camera_target(run.load))
            elif run.load.cameras == args.cameras:
                results.targets.append(dds_target(run.load, run.label))
    if not args.no_ros2:
        run_ros2_part(results, chosen.dds_seconds, out_dir)


def run_video_part(results: report.Results, args: argparse.Namespace, chosen: Settings) -> None:
    try:
        from .video_bench import DEMO_SCENE, measure
    except ImportError as err:
        results.notes.append(f"no video measurements: {err} (pip install -e '.[video]')")
        return
    section(f"Video (best of {chosen.repeat})")
    results.video = measure(demo_frames=60, speed_frames=chosen.video_frames, repeat=chosen.repeat, data_dir=args.data_dir)
    results.targets += video_targets(results.video, DEMO_SCENE)


def run_geometry_part(results: report.Results) -> None:
    from . import rectify_bench, rgbd_bench

    section("Camera geometry: rectification, registration, clouds")
    results.geometry = rectify_bench.measure(repeats=20) + rgbd_bench.measure(repeats=10)
    results.targets.append(remap_target(results.geometry))
    print(report.geometry_table(results.geometry))


def run_convert_part(results: report.Results, args: argparse.Namespace, chosen: Settings) -> None:
    from . import convert_bench

    section(f"Batch conversion (fastest of {chosen.repeat})")
    results.convert = convert_bench.measure(repeat=chosen.repeat, data_dir=args.data_dir)
    results.targets += convert_targets(results.convert)
    print(convert_bench.section(results.convert))


def run_ros2_part(results: report.Results, seconds: float, out_dir: Path) -> None:
    if not has_rclpy():
        results.notes.append("no rclpy here: the real ROS 2 camera was not run (test/ros2/install.sh .venv)")
        return
    for bridge in BRIDGES:
        section(f"One rclpy camera into the {bridge} for {seconds:g} s")
        try:
            results.ros2[bridge] = load = run_ros2_camera(bridge, seconds, out_dir)
        except BenchError as err:
            results.notes.append(f"rclpy camera into the {bridge} skipped: {err}")
            continue
        results.targets.append(ros2_target(load, bridge))
        print(report.ros2_table({bridge: load}))


def write_report(results: report.Results, path: Path, data_dir: Path, command: str) -> None:
    plot: Path | None = path.with_suffix(".png")
    if not (results.replay and report.plot_replay(results.replay, plot)):
        plot = None
        if results.replay:
            results.notes.append("matplotlib is not installed: no plot (pip install -e '.[bench]')")
    date = datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(report.render(results, report.machine(data_dir), date, command, plot))


def prepare_bag(spec: BagSpec, data_dir: Path) -> BenchBag:
    print(f"bag {spec.name}: ", end="", flush=True)
    bag = ensure_bag(spec, data_dir)
    print(f"{bag.file_bytes / 1e6:.0f} MB, {bag.images} frames, {bag.storage_file}")
    return bag


def profile_largest(bags: Sequence[BenchBag], out_dir: Path, notes: list[str]) -> tuple[dict, dict]:
    """Where the time goes in one replay of the largest bag of each variant: the bridge's main thread by phase,
    and the bridge's and Rerun's importer's CPU by thread (MCAP bags)."""
    largest: dict[str, BenchBag] = {}
    for bag in bags:
        if bag.spec.variant not in largest or bag.spec.size_mb > largest[bag.spec.variant].spec.size_mb:
            largest[bag.spec.variant] = bag
    section("Profiling one replay per variant")
    profiles, threads = {}, {}
    for bag in largest.values():
        try:
            profiles[bag.spec.name] = profile_phases(bag, out_dir)
            if bag.spec.storage == "mcap":
                threads[bag.spec.name] = thread_cpu(bag, out_dir)
        except BenchError as err:
            notes.append(str(err))
    if profiles:
        print(report.profile_table(profiles))
    if threads:
        print(report.replay_threads_table(threads))
    return profiles, threads


def run_dds_loads(cameras: int, seconds: float, out_dir: Path, notes: list[str]) -> list[report.DdsRun]:
    """The load with the field notes' Cyclone DDS configuration, then with the largest receive buffer allowed;
    then one camera fewer with that buffer, down to one: what this machine does sustain. Last, issue 10's
    camera (720p colour, 480p depth) with the bridge's own settings under this machine's rmem_max."""
    configs: list[tuple[str, int | None]] = [("field notes", None)]
    limit = max_receive_buffer()
    if limit:
        configs.append((f"receive buffer {limit / 2**20:g} MiB (rmem_max)", limit))
    sizes = (COLOUR_SIZE, DEPTH_SIZE)
    loads = [(cameras, label, buffer, sizes) for label, buffer in configs]
    loads += [(fewer, *configs[-1], sizes) for fewer in range(cameras - 1, 0, -1)]
    loads.append((1, f"{LIVE_CAMERA_LABEL}, rmem_max {(limit or 0) / 2**20:g} MiB", None, LIVE_CAMERA))
    runs = []
    for count, label, receive_buffer, (colour, depth) in loads:
        section(f"DDS load: {count} cameras for {seconds:g} s, {label}")
        try:
            load = run_dds_load(count, seconds, out_dir, receive_buffer, colour, depth)
        except BenchError as err:
            print(f"skipped: {err}")
            notes.append(f"DDS load ({count} cameras, {label}) skipped: {err}")
            continue
        run = report.DdsRun(label, load)
        print(report.dds_table([run]))
        runs.append(run)
    return runs


def section(title: str) -> None:
    print(f"\n== {title}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
