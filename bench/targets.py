"""The performance targets of issues 4, 10, 11 (video), 12 (rectification) and 13 (convert), each checked against the
measurements with its margin."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Sequence

from .live_bench import ConversionCost, DdsLoad
from .make_bags import BenchBag
from .replay_bench import CP, OURS, RERUN_IMPORTER, ReplayResult, find

if TYPE_CHECKING:
    from .convert_bench import ConvertRun
    from .rectify_bench import Cost
    from .video_bench import VideoResults

MAX_TIME_VS_CP = 1.5
MAX_PEAK_RSS_MB = 500.0
MAX_CONVERSION_MS = 1.0  # one 1080p rgb8 frame through Bridge.handle (median)
CONVERSION_CASE = "rgb8 1920x1080 Image"
MAX_DDS_P99_MS = 50.0
MIN_ROS2_LOGGED = 0.99  # of the frames an rclpy camera published
MIN_VIDEO_SIZE_RATIO = 10.0  # the raw RGB-D recording over colour as video with depth lossless
MIN_VIDEO_PSNR_DB = 38.0  # every frame of the demo, default H.264
VIDEO_REAL_TIME = ((1280, 720), 30.0)  # default H.264 encoding, frames/s
LIVE_CAMERA = ((1280, 720), (640, 480))  # issue 10's RGB-D camera at 30 Hz, into `live` at the OS's rmem_max
LIVE_CAMERA_LABEL = "issue 10's camera 1280x720 + 640x480"
MIN_LIVE_LOGGED = 0.99
MAX_REMAP_MS = 5.0  # rectifying one 1080p colour frame (issue 12)
REMAP_CASE = ("rectify: remap", "1920x1080 rgb8 (bilinear)")
MIN_CONVERT_SPEEDUP = 1.6  # convert --jobs 2 over --jobs 1, 20 bags on 2 cores (issue 13)


@dataclass(frozen=True)
class Target:
    name: str
    measured: str
    passed: bool
    margin: str  # how far inside or outside the limit


def replay_targets(results: Sequence[ReplayResult], bags: Sequence[BenchBag]) -> list[Target]:
    targets = []
    for bag in bags:
        ours = find(results, bag, OURS)
        if ours is None:
            targets.append(Target(f"replay {bag.spec.name}", "the bridge failed", False, "-"))
            continue
        if rerun := find(results, bag, RERUN_IMPORTER):
            speedup = rerun.run.wall_s / ours.run.wall_s
            targets.append(Target(
                f"replay throughput >= `rerun mcap convert`, {bag.spec.name}",
                f"{ours.mb_per_s:.0f} vs {rerun.mb_per_s:.0f} MB/s", speedup >= 1.0, f"{speedup:.2f}x its speed",
            ))  # fmt: skip
        if cp := find(results, bag, CP):
            ratio = ours.run.wall_s / cp.run.wall_s
            targets.append(Target(
                f"replay time <= {MAX_TIME_VS_CP}x `cp`, {bag.spec.name}",
                f"{ours.run.wall_s:.2f} vs {cp.run.wall_s:.2f} s", ratio <= MAX_TIME_VS_CP,
                f"{ratio:.1f}x cp ({_relative(ratio, MAX_TIME_VS_CP)})",
            ))  # fmt: skip
        rss = ours.run.peak_rss_mb
        targets.append(Target(
            f"peak RSS < {MAX_PEAK_RSS_MB:.0f} MB, {bag.spec.name}", f"{rss:.0f} MB", rss < MAX_PEAK_RSS_MB,
            _relative(rss, MAX_PEAK_RSS_MB),
        ))  # fmt: skip
    return targets


def conversion_target(costs: Sequence[ConversionCost]) -> Target:
    cost = next(c for c in costs if c.case == CONVERSION_CASE)
    return Target(
        f"live conversion < {MAX_CONVERSION_MS:g} ms per 1080p rgb8 frame (median of `Bridge.handle`)",
        f"{cost.median_ms:.2f} ms (p99 {cost.p99_ms:.1f} ms, sustained {cost.sustained_ms:.1f} ms)",
        cost.median_ms < MAX_CONVERSION_MS, _relative(cost.median_ms, MAX_CONVERSION_MS),
    )  # fmt: skip


def dds_target(load: DdsLoad, label: str) -> Target:
    p99 = load.worst_p99_ms
    passed = load.missing == 0 and p99 is not None and p99 < MAX_DDS_P99_MS
    latency = f"worst p99 {p99:.1f} ms" if p99 is not None else "no frame logged"
    return Target(
        f"DDS {load.cameras} cameras, {label}: no frame lost or dropped, p99 < {MAX_DDS_P99_MS:g} ms",
        f"{load.missing} of {sum(t.sent for t in load.topics)} frames missing, {latency}", passed,
        _relative(p99, MAX_DDS_P99_MS) if p99 is not None else "-",
    )  # fmt: skip


def ros2_target(load: DdsLoad, bridge: str) -> Target:
    sent = sum(t.sent for t in load.topics)
    logged = sum(t.logged for t in load.topics)
    share = logged / sent if sent else 0.0
    return Target(
        f"one rclpy camera into the {bridge}: >= {MIN_ROS2_LOGGED:.0%} of the frames logged",
        f"{logged} of {sent} ({share:.1%})", share >= MIN_ROS2_LOGGED, f"{(share - MIN_ROS2_LOGGED) * 100:+.1f} points",
    )  # fmt: skip


def video_targets(video: VideoResults, demo_scene: str) -> list[Target]:
    from .video_bench import DEFAULT_VIDEO  # PyAV: only where video was measured

    default = next(r for r in video.rgbd if r.name == DEFAULT_VIDEO)  # `--video h264`: colour H.264, depth PNG
    ratio = video.rgbd_ratio(default)
    psnr = min(video.psnr[demo_scene])
    (width, height), rate = VIDEO_REAL_TIME
    fps = video.default_encode_fps((width, height))
    return [
        Target(f"RGB-D bench bag >= {MIN_VIDEO_SIZE_RATIO:g}x smaller than raw, depth lossless", f"{ratio:.1f}x ({default.name})",
               ratio >= MIN_VIDEO_SIZE_RATIO, f"{ratio / MIN_VIDEO_SIZE_RATIO:.2f}x the minimum"),
        Target(f"PSNR >= {MIN_VIDEO_PSNR_DB:g} dB on the demo, default H.264", f"min {psnr:.2f} dB",
               psnr >= MIN_VIDEO_PSNR_DB, f"{psnr - MIN_VIDEO_PSNR_DB:+.2f} dB"),
        Target(f"{width}x{height} at {rate:g} Hz encoded in real time (default H.264)", f"{fps:.0f} fps",
               fps >= rate, f"{fps / rate:.2f}x the minimum"),
    ]  # fmt: skip


def live_camera_target(load: DdsLoad) -> Target:
    sent = sum(t.sent for t in load.topics)
    share = sum(t.logged for t in load.topics) / sent if sent else 0.0
    p99 = load.worst_p99_ms
    passed = share >= MIN_LIVE_LOGGED and p99 is not None and p99 < MAX_DDS_P99_MS
    return Target(
        f"{LIVE_CAMERA_LABEL} at 30 Hz into `live`: >= {MIN_LIVE_LOGGED:.0%} logged, p99 < {MAX_DDS_P99_MS:g} ms",
        f"{share:.1%} logged, worst p99 {p99:.1f} ms" if p99 is not None else "no frame logged", passed,
        _relative(p99, MAX_DDS_P99_MS) if p99 is not None else "-",
    )  # fmt: skip


def remap_target(costs: Sequence[Cost]) -> Target:
    cost = next(c for c in costs if (c.operation, c.frame) == REMAP_CASE)
    return Target(f"rectifying a 1080p rgb8 frame < {MAX_REMAP_MS:g} ms (minimum of `remap`)", f"{cost.best_ms:.1f} ms",
                  cost.best_ms < MAX_REMAP_MS, _relative(cost.best_ms, MAX_REMAP_MS))  # fmt: skip


def convert_targets(runs: Sequence[ConvertRun]) -> list[Target]:
    from .convert_bench import speedups

    targets = [Target(f"convert --jobs 2 >= {MIN_CONVERT_SPEEDUP:g}x --jobs 1, 20 x {size} MB bags", f"{speedup:.2f}x",
                      speedup >= MIN_CONVERT_SPEEDUP, f"{speedup / MIN_CONVERT_SPEEDUP:.2f} of it; at most {bound:.2f}x from the CPU time")
               for size, speedup, bound in speedups(runs)]  # fmt: skip
    peak = max(r.worker_peak_rss_mb for r in runs)
    targets.append(Target(f"convert: peak RSS per worker < {MAX_PEAK_RSS_MB:g} MB", f"{peak:.0f} MB", peak < MAX_PEAK_RSS_MB,
                          _relative(peak, MAX_PEAK_RSS_MB)))  # fmt: skip
    return targets


def _relative(value: float, limit: float) -> str:
    """`value` against an upper `limit`, e.g. "40% under" or "2.3x over"."""
    if value <= limit:
        return f"{(1 - value / limit) * 100:.0f}% under"
    return f"{value / limit:.1f}x over"
