"""Video (issue 11): recording sizes, quality and encoder speed.

    .venv/bin/python -m bench.video_bench [--frames 60] [--repeat 3] [--docs]

Writes bench/results/video.md, or with --docs the "## Video" section of docs/benchmarks.md (`bench.run`
measures and writes the same section with the rest).
- Size on the RGB-D bench bag (bench/make_bags.py: 1280x720 rgb8, or its JPEG, with 848x480 16UC1 at 30 Hz),
  replayed in-process into .rrd files: raw, colour encoded with the defaults (H.264), depth raw, PNG, RVL
  or auto (the smaller per frame: what `--video` implies), JPEG passed through; the same on the demo bag, and on the demo with sensor
  noise (colour sigma 3 levels, depth sigma 1 mm + 0.2% of the range, 1% of depth pixels dropped). Replay
  time is the best of `--repeat`. Where the bytes go: per entity, as Arrow columns and chunk overhead.
- Quality: PSNR (RGB, against the source frames) of the H.264 samples read back and decoded with PyAV,
  on the demo scene (smooth), the noisy demo and the bench bag's frames (uniform noise in the low 3 bits).
- Speed: frames per second of the bridge's encoder (`VideoEncoder`, with its RGB to 4:2:0 conversion)
  on demo frames rendered at 720p and 1080p, per codec and preset, best of `--repeat`.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Iterable, Iterator

import av
import numpy as np
from rerun.chunk import RrdReader

from bridge.config import SinksConfig, parse_config
from bridge.conversion.image import RawFrame
from bridge.conversion.options import VideoOptions
from bridge.conversion.video import VideoCodec
from bridge.core import Bridge
from bridge.demo import COLOR_TOPIC, DEPTH_TOPIC, demo_messages, demo_topics, write_demo_bag, write_messages
from bridge.replay import ReplayOptions, replay
from bridge.sinks import Recording
from bridge.streams.encoder import SOFTWARE, VideoEncoder

from .make_bags import COLOUR_SIZE, DATA_DIR, RATE_HZ, START_NS, BagSpec, BenchBag, RgbdCamera, ensure_bag
from .measure import REPO

RESULTS = REPO / "bench" / "results" / "video.md"
DOCS = REPO / "docs" / "benchmarks.md"
SPEED = [("h264", p) for p in ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium")] + [("h265", "veryfast"), ("av1", "10")]
SPEED_SIZES = ((1280, 720), (1920, 1080))
RGBD_COLOUR = "/camera/color/image_raw"
CALIBRATION = ".*camera_info|/tf.*"
DEMO_RECORDINGS = {  # name: (include, video, depth_compression)
    "raw colour + raw depth": (f"{COLOR_TOPIC}|{DEPTH_TOPIC}|{CALIBRATION}", None, None),
    "JPEG colour (passed through) + raw depth": (f"{COLOR_TOPIC}/compressed|{DEPTH_TOPIC}|{CALIBRATION}", None, None),
    "H.264 colour (default settings) + raw depth": (f"{COLOR_TOPIC}|{DEPTH_TOPIC}|{CALIBRATION}", "h264", "none"),
    "H.264 colour + PNG depth (lossless)": (f"{COLOR_TOPIC}|{DEPTH_TOPIC}|{CALIBRATION}", "h264", "png"),
    "H.264 colour + RVL depth (lossless)": (f"{COLOR_TOPIC}|{DEPTH_TOPIC}|{CALIBRATION}", "h264", "rvl"),
    "`--video h264`: H.264 colour + depth auto (lossless)": (f"{COLOR_TOPIC}|{DEPTH_TOPIC}|{CALIBRATION}", "h264", None),
    "the whole demo, raw (`ros2-rerun-bridge demo`)": (".*", None, None),
    "the whole demo, `--video h264`": (".*", "h264", None),
}
NOISY_RECORDINGS = {  # name: (video, depth_compression); the colour and depth topics with their calibration
    "raw colour + raw depth": (None, None),
    "H.264 colour + raw depth": ("h264", "none"),
    "H.264 colour + PNG depth": ("h264", "png"),
    "H.264 colour + RVL depth": ("h264", "rvl"),
    "`--video h264`: H.264 colour + depth auto": ("h264", None),
}
DEFAULT_VIDEO = "`--video h264`: H.264 colour + depth auto"
RGBD_RECORDINGS = {  # name: (bag colour, video, depth_compression)
    "raw colour + raw depth (plain replay)": ("raw", None, None),
    "H.264 colour + raw depth": ("raw", "h264", "none"),
    "H.264 colour + PNG depth": ("raw", "h264", "png"),
    "H.264 colour + RVL depth": ("raw", "h264", "rvl"),
    DEFAULT_VIDEO: ("raw", "h264", None),
    "JPEG colour (passed through) + raw depth": ("jpeg", None, None),
    "JPEG colour (passed through) + PNG depth": ("jpeg", None, "png"),
}
DEMO_SCENE = "demo (smooth, 640x480)"
NOISY_SCENE = "demo with sensor noise (640x480)"
OVERHEAD = "the rest of the file (chunk headers, schemas)"
RGBD_BAG_MB = {"raw": 300, "jpeg": 100}  # about 85 and 100 frames: sizes are compared per second of camera


@dataclass(frozen=True)
class Recorded:
    name: str
    video: str | None  # the colour codec; None: colour as in the bag
    depth: str | None  # the depth compression; None: raw
    bytes: int
    seconds: float  # the fastest replay
    frames: int  # camera frames (colour + depth pairs) in the bag


@dataclass
class VideoResults:
    demo_frames: int
    repeat: int
    demo: list[Recorded] = field(default_factory=list)
    noisy: list[Recorded] = field(default_factory=list)
    rgbd: list[Recorded] = field(default_factory=list)
    rgbd_bytes: dict[str, int] = field(default_factory=dict)  # `--video h264` on the RGB-D bag: where they go
    psnr: dict[str, list[float]] = field(default_factory=dict)  # scene -> per frame, dB
    speeds: dict[tuple[str, str, tuple[int, int]], float] = field(default_factory=dict)  # fps, the best
    load_average: tuple[float, float] = (0.0, 0.0)  # 1-minute load average at start and at end

    def rgbd_ratio(self, recorded: Recorded) -> float:
        """How many times smaller than the raw recording, per second of camera."""
        raw = self.rgbd[0]
        return (raw.bytes / raw.frames) / (recorded.bytes / recorded.frames)

    def default_encode_fps(self, size: tuple[int, int]) -> float:
        return self.speeds["h264", SOFTWARE[VideoCodec.H264].preset, size]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.video_bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("--frames", type=int, default=60, help="frames of the demo bag (the demo's own 60)")
    parser.add_argument("--speed-frames", type=int, default=60, help="frames encoded per speed measurement")
    parser.add_argument("--repeat", type=int, default=3, help="runs per replay and speed measurement, the best kept")
    parser.add_argument("--data-dir", type=Path, default=DATA_DIR, metavar="DIR", help=f"the bench bags ({DATA_DIR})")
    parser.add_argument("--docs", action="store_true", help="write the section into docs/benchmarks.md")
    args = parser.parse_args(argv)
    text = section(measure(args.frames, args.speed_frames, args.repeat, args.data_dir))
    print(text)
    from .report import write_section

    write_section(text, DOCS if args.docs else RESULTS)
    return 0


def measure(demo_frames: int, speed_frames: int, repeat: int, data_dir: Path = DATA_DIR) -> VideoResults:
    results = VideoResults(demo_frames, repeat)
    started_load = os.getloadavg()[0]
    bags = {colour: ensure_bag(BagSpec(colour, "mcap", size), data_dir) for colour, size in RGBD_BAG_MB.items()}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        demo = write_demo_bag(work / "demo", frames=demo_frames)
        for i, (name, (include, video, depth)) in enumerate(DEMO_RECORDINGS.items()):
            topics = demo_topics() if include == ".*" else None  # the whole demo as the command converts it
            size, seconds = record(demo, work / f"demo{i}.rrd", {"include": [include]}, video, depth, repeat, topics)
            results.demo.append(Recorded(name, video, depth, size, seconds, demo_frames))
        results.psnr[DEMO_SCENE] = demo_psnr(work / "demo2.rrd", demo_frames)
        noisy = write_messages(work / "noisy", with_sensor_noise(demo_messages(demo_frames, 640, 480)))
        for i, (name, (video, depth)) in enumerate(NOISY_RECORDINGS.items()):
            include = f"{COLOR_TOPIC}|{DEPTH_TOPIC}|{CALIBRATION}"
            size, seconds = record(noisy, work / f"noisy{i}.rrd", {"include": [include]}, video, depth, repeat)
            results.noisy.append(Recorded(name, video, depth, size, seconds, demo_frames))
        results.psnr[NOISY_SCENE] = noisy_psnr(work / "noisy2.rrd", demo_frames)
        for i, (name, (colour, video, depth)) in enumerate(RGBD_RECORDINGS.items()):
            bag = bags[colour]
            size, seconds = record(bag.folder, work / f"rgbd{i}.rrd", {}, video, depth, repeat)
            results.rgbd.append(Recorded(name, video, depth, size, seconds, bag.images // 2))
        default = list(RGBD_RECORDINGS).index(DEFAULT_VIDEO)
        results.rgbd_bytes = bytes_by_entity(work / f"rgbd{default}.rrd")
        results.psnr["bench bag (uniform noise in the low 3 bits, 1280x720)"] = rgbd_psnr(work / "rgbd1.rrd")
    for _ in range(repeat):  # rounds over every case, rather than one case's runs in a row: load comes in bursts
        for size in SPEED_SIZES:
            for codec, preset in SPEED:
                fps = encode_fps(codec, preset, size, speed_frames)
                results.speeds[codec, preset, size] = max(fps, results.speeds.get((codec, preset, size), 0.0))
    results.load_average = (started_load, os.getloadavg()[0])
    return results


def record(bag: Path, rrd: Path, document: dict, video: str | None, depth: str | None, repeat: int,
           topics: dict | None = None) -> tuple[int, float]:  # fmt: skip
    """(.rrd bytes, fastest replay seconds) of the bag through the bridge with `document`'s config (its topics
    replaced by `topics` when given)."""
    document = {**document, **({"video": video} if video else {}), **({"depth_compression": depth} if depth else {})}
    config = parse_config(document).with_sinks(SinksConfig(file=rrd))
    if topics is not None:
        config = replace(config, topics=topics)
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        bridge = Bridge(config, Recording(config.recording))
        replay([bag], bridge, ReplayOptions(progress=False))
        bridge.close()
        bridge.recording.close(keep_file=True)
        times.append(time.perf_counter() - began)
    return rrd.stat().st_size, min(times)


def decoded_samples(rrd: Path, entity: str) -> list[tuple[int, np.ndarray]]:
    """(ros2_timestamp ns, RGB frame) of each H.264 sample of `entity`, read back and decoded with PyAV."""
    sys.path.insert(0, str(REPO / "test"))
    from recordings import read_recording

    table = read_recording(rrd)
    stamps = table.column("ros2_timestamp").cast("int64").to_pylist()
    column = table.column(f"{entity}:VideoStream:sample").combine_chunks()
    decoder = av.CodecContext.create("h264", "r")
    decoded, sampled = [], []
    for stamp, cell in zip(stamps, column):
        if cell.is_valid:
            sampled.append(stamp)
            decoded += decoder.decode(av.Packet(cell.values[0].values.to_numpy().tobytes()))
    decoded += decoder.decode(None)
    return [(stamp, frame.to_ndarray(format="rgb24")) for stamp, frame in zip(sampled, decoded, strict=True)]


def demo_psnr(rrd: Path, frames: int) -> list[float]:
    return _colour_psnr(rrd, demo_messages(frames, 640, 480))


def noisy_psnr(rrd: Path, frames: int) -> list[float]:
    return _colour_psnr(rrd, with_sensor_noise(demo_messages(frames, 640, 480)))


def _colour_psnr(rrd: Path, messages: Iterable[tuple[str, Any, int]]) -> list[float]:
    sources = [msg.data.reshape(msg.height, msg.width, 3) for topic, msg, _ in messages if topic == COLOR_TOPIC]
    return [_psnr(frame, source) for (_, frame), source in zip(decoded_samples(rrd, COLOR_TOPIC), sources, strict=True)]


def with_sensor_noise(messages: Iterable[tuple[str, Any, int]], seed: int = 0) -> Iterator[tuple[str, Any, int]]:
    """The demo's messages with a camera's noise: colour Gaussian (sigma 3 levels), depth Gaussian growing with
    the range (1 mm + 0.2%, as stereo and ToF sensors) and 1% of its pixels without depth (0)."""
    rng = np.random.default_rng(seed)
    for topic, msg, ns in messages:
        if topic == COLOR_TOPIC:
            noisy = msg.data.astype(np.float32) + rng.normal(0.0, 3.0, msg.data.shape).astype(np.float32)
            msg = replace(msg, data=np.clip(np.rint(noisy), 0, 255).astype(np.uint8))
        elif topic == DEPTH_TOPIC:
            depth = msg.data.view(np.uint16).astype(np.float32)
            noisy = depth + rng.normal(0.0, 1.0, depth.shape).astype(np.float32) * (1.0 + 0.002 * depth)
            noisy = np.where((depth == 0) | (rng.random(depth.shape) < 0.01), 0, np.clip(np.rint(noisy), 1, 65535))
            msg = replace(msg, data=noisy.astype(np.uint16).view(np.uint8))
        yield topic, msg, ns


def bytes_by_entity(rrd: Path) -> dict[str, int]:
    """Bytes of each entity's Arrow columns in `rrd`, and the rest of the file (chunk headers, schemas): where
    the bytes of a recording go."""
    sizes: dict[str, int] = {}
    for chunk in RrdReader(rrd).stream():
        entity = str(chunk.entity_path)
        sizes[entity] = sizes.get(entity, 0) + chunk.to_record_batch().nbytes
    sizes = dict(sorted(sizes.items(), key=lambda item: -item[1]))
    sizes[OVERHEAD] = rrd.stat().st_size - sum(sizes.values())
    return sizes


def rgbd_psnr(rrd: Path) -> list[float]:
    camera = RgbdCamera("raw")
    scores = []
    for stamp, frame in decoded_samples(rrd, RGBD_COLOUR):
        sequence = round((stamp - START_NS) * RATE_HZ / 1e9)
        msg = dict(camera.tick(sequence, stamp))[RGBD_COLOUR]
        scores.append(_psnr(frame, msg.data.reshape(COLOUR_SIZE[1], COLOUR_SIZE[0], 3)))
    return scores


def encode_fps(codec: str, preset: str, size: tuple[int, int], count: int) -> float:
    width, height = size
    rendered = [msg.data.reshape(height, width, 3) for topic, msg, _ in demo_messages(min(count, 10), width, height)
                if topic == COLOR_TOPIC]  # fmt: skip
    encoder = VideoEncoder(VideoOptions(codec=codec, preset=preset))
    began = time.perf_counter()
    for i in range(count):
        encoder.encode(RawFrame(rendered[i % len(rendered)], "rgb24"), {"t": i})
    encoder.flush()
    return count / (time.perf_counter() - began)


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    return float(10 * np.log10(255**2 / np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)))


def section(results: VideoResults) -> str:
    """The "## Video" section of docs/benchmarks.md."""
    h264 = SOFTWARE[VideoCodec.H264]
    lines = ["## Video", "",
             f"`python -m bench.video_bench` (PyAV {av.__version__}), or with the rest by `python -m bench.run`. Measured on "
             f"a {os.cpu_count()}-core machine, load average {results.load_average[0]:.1f} at the start and "
             f"{results.load_average[1]:.1f} at the end (the bench's own encoders count in it; more means other work "
             f"ran too); times are the best of {results.repeat} runs. Replays run in-process "
             "(`Bridge` + `replay`, as the command does after start-up).", "",
             f"### Size: the RGB-D bench bag ({COLOUR_SIZE[0]}x{COLOUR_SIZE[1]} rgb8 or its JPEG, 848x480 16UC1, "
             f"{RATE_HZ} Hz)", "",
             "Sizes per second of camera (the raw and JPEG bags differ in length). The issue's target: at least "
             "10x smaller than raw, with depth pixel-exact.", "",
             "| recording | .rrd per second of camera | raw / this | replay frames/s (colour + depth pairs) |",
             "|---|---|---|---|"]  # fmt: skip
    for r in results.rgbd:
        lines.append(f"| {r.name} | {r.bytes / r.frames * RATE_HZ / 1e6:.1f} MB | {results.rgbd_ratio(r):.1f} | "
                     f"{r.frames / r.seconds:.0f} ({r.frames} in {r.seconds:.1f} s) |")  # fmt: skip
    bag_bytes = sum(results.rgbd_bytes.values())
    lines += ["", "The bench frames carry noise in every pixel (colour: the low 3 bits; depth: uniform 0-15 mm), "
              "as real sensors do: lossless depth compression cannot drop it, and the bag's colour cycles 8 "
              "frames, which H.264 encodes cheaply. Where the bytes of `--video h264` go:", "",
              "| part | bytes | share |", "|---|---|---|"]  # fmt: skip
    for part, size in results.rgbd_bytes.items():
        lines.append(f"| {part} | {size / 1e6:.2f} MB | {size / bag_bytes:.1%} |")
    lines += ["",
              f"### Size: the demo with sensor noise ({results.demo_frames} frames at 15 Hz, 640x480)", "",
              "The demo's colour with Gaussian noise (sigma 3 levels) and its depth with noise growing with the "
              "range (sigma 1 mm + 0.2%) and 1% of pixels dropped, as a camera gives them.", "",
              "| recording | .rrd size | raw / this | replay time |", "|---|---|---|---|"]  # fmt: skip
    noisy_raw = results.noisy[0].bytes
    for r in results.noisy:
        lines.append(f"| {r.name} | {r.bytes / 1e6:.2f} MB | {noisy_raw / r.bytes:.1f} | {r.seconds:.1f} s |")
    lines += ["",
              f"### Size: the demo bag ({results.demo_frames} frames at 15 Hz, 640x480 rgb8 colour, its JPEG, 16UC1 "
              "depth, CameraInfo and TF)", "",
              "| recording | .rrd size | raw colour + depth / this | replay time |", "|---|---|---|---|"]  # fmt: skip
    demo_raw = results.demo[0].bytes
    for r in results.demo:
        lines.append(f"| {r.name} | {r.bytes / 1e6:.2f} MB | {demo_raw / r.bytes:.1f} | {r.seconds:.1f} s |")
    lines += ["", f"### Quality of the default H.264 (CRF {h264.quality}, preset {h264.preset}, gop 30)", "",
              "PSNR (RGB) of the decoded samples read back from the .rrd against the source frames. 4:2:0 chroma "
              "alone caps it near 40-45 dB on smooth scenes. Depth PNG and RVL are pixel-exact (test_video).", "",
              "| scene | frames | min | mean |", "|---|---|---|---|"]  # fmt: skip
    for scene, scores in results.psnr.items():
        lines.append(f"| {scene} | {len(scores)} | {min(scores):.2f} dB | {np.mean(scores):.2f} dB |")
    lines += ["", "### Encoder speed", "",
              f"The bridge's `VideoEncoder` (RGB to 4:2:0 and the encoder) on demo frames, best of {results.repeat}:",
              "", "| codec | preset | 1280x720 | 1920x1080 |", "|---|---|---|---|"]  # fmt: skip
    for codec, preset in SPEED:
        fps = [results.speeds[codec, preset, size] for size in SPEED_SIZES]
        lines.append(f"| {codec} | {preset}{' (default)' if SOFTWARE[VideoCodec(codec)].preset == preset else ''} | "
                     f"{fps[0]:.0f} fps | {fps[1]:.0f} fps |")  # fmt: skip
    default_720 = results.default_encode_fps(SPEED_SIZES[0])
    verdict = "keeps" if default_720 >= RATE_HZ else "does not keep"
    lines += ["", f"1280x720 at {RATE_HZ} Hz with the default H.264 (preset {h264.preset}) {verdict} real time here "
              f"({default_720:.0f} fps on one topic's worker thread); live drops frames before the encoder when it "
              "falls behind (counted as dropped)."]  # fmt: skip
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
