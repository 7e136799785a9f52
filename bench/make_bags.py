"""Realistic RGB-D bags for the replay benchmark, written streaming so that memory stays small.

One camera at 30 Hz: 1280x720 rgb8 colour (or the same frames as JPEG
CompressedImage), 848x480 16UC1 depth in millimetres, and a CameraInfo for
each. MCAP chunks are not compressed, as `ros2 bag record` does by default.
The `noise` variants fill both images with uniform random pixels instead of a
scene: content that no compressor shrinks, Rerun's LZ4 included.
Bags land in `~/.cache/ros2_rerun_bridge/bench/<colour>-<storage>-<size>MB/` and are reused when a
complete one (with its `bench.json`) is already there.

    python -m bench.make_bags --sizes 300 1000 --variants raw-mcap jpeg-mcap
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np
from rosbags.rosbag2 import StoragePlugin, Writer

from . import messages as m

# Several GB of generated bags: a cache, outside the repository.
DATA_DIR = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "ros2_rerun_bridge" / "bench"
COLOUR_SIZE = (1280, 720)
DEPTH_SIZE = (848, 480)
RATE_HZ = 30
START_NS = 1_700_000_000_000_000_000
RECORD_DELAY_NS = 2_000_000  # log time = header stamp + this: the recorder gets frames a little after capture
PRE_RENDERED = 8  # distinct frames per stream, cycled
GENERATOR = 2  # bump when the content changes: bags written by another generator are rewritten

COLOURS = ("raw", "noise", "jpeg")
STORAGES = {"mcap": StoragePlugin.MCAP, "sqlite3": StoragePlugin.SQLITE3}
STORAGE_SUFFIX = {"mcap": ".mcap", "sqlite3": ".db3"}
VARIANTS = tuple(f"{colour}-{storage}" for colour in COLOURS for storage in STORAGES)


@dataclass(frozen=True)
class BagSpec:
    colour: str  # "raw": sensor_msgs/Image rgb8; "noise": the same, random pixels; "jpeg": sensor_msgs/CompressedImage
    storage: str  # "mcap" or "sqlite3"
    size_mb: int  # of serialized messages; the file is a little larger

    @classmethod
    def parse(cls, variant: str, size_mb: int) -> BagSpec:
        colour, _, storage = variant.partition("-")
        if colour not in COLOURS or storage not in STORAGES:
            raise ValueError(f"unknown bag variant {variant!r} (one of: {', '.join(VARIANTS)})")
        return cls(colour, storage, size_mb)

    @property
    def variant(self) -> str:
        return f"{self.colour}-{self.storage}"

    @property
    def name(self) -> str:
        return f"{self.variant}-{self.size_mb}MB"


@dataclass(frozen=True)
class BenchBag:
    spec: BagSpec
    folder: Path
    images: int  # Image and CompressedImage messages
    messages: int

    @property
    def storage_file(self) -> Path:
        return self.folder / f"{self.folder.name}{STORAGE_SUFFIX[self.spec.storage]}"

    @property
    def file_bytes(self) -> int:
        return self.storage_file.stat().st_size


class RgbdCamera:
    """The four topics of one RGB-D camera, from a few pre-rendered frames re-stamped per message."""

    def __init__(self, content: str):
        jpeg = self.jpeg = content == "jpeg"
        if content == "noise":
            self.colour = [m.render_noise((*COLOUR_SIZE[::-1], 3), np.uint8, phase) for phase in range(PRE_RENDERED)]
            self.depth = [m.render_noise(DEPTH_SIZE[::-1], np.uint16, phase) for phase in range(PRE_RENDERED)]
        else:
            self.colour = [m.render_colour(*COLOUR_SIZE, phase) for phase in range(PRE_RENDERED)]
            self.depth = [m.render_depth(*DEPTH_SIZE, phase) for phase in range(PRE_RENDERED)]
        self.jpegs = [m.encode_jpeg(frame) for frame in self.colour] if jpeg else []
        colour_topic = "/camera/color/image_raw/compressed" if jpeg else "/camera/color/image_raw"
        self.topics = {
            colour_topic: m.COMPRESSED_TYPE if jpeg else m.IMAGE_TYPE,
            "/camera/color/camera_info": m.CAMERA_INFO_TYPE,
            "/camera/depth/image_rect_raw": m.IMAGE_TYPE,
            "/camera/depth/camera_info": m.CAMERA_INFO_TYPE,
        }

    def tick(self, sequence: int, stamp_ns: int) -> list[tuple[str, Any]]:
        """(topic, message) of every topic for frame `sequence`, in the order of `topics`."""
        colour_topic, colour_info, depth_topic, depth_info = self.topics
        frame = sequence % PRE_RENDERED
        depth = self.depth[frame]
        m.stamp_sequence(depth, sequence)
        return [
            (colour_topic, self._colour_msg(frame, sequence, stamp_ns)),
            (colour_info, m.camera_info_msg(*COLOUR_SIZE, stamp_ns, m.FRAME_ID_COLOUR)),
            (depth_topic, m.image_msg(depth, "16UC1", stamp_ns, m.FRAME_ID_DEPTH)),
            (depth_info, m.camera_info_msg(*DEPTH_SIZE, stamp_ns, m.FRAME_ID_DEPTH)),
        ]

    def _colour_msg(self, frame: int, sequence: int, stamp_ns: int) -> Any:
        if self.jpeg:  # JPEG frames are reused as they are: re-encoding each would dominate the generation
            return m.compressed_msg(self.jpegs[frame], "rgb8; jpeg compressed bgr8", stamp_ns, m.FRAME_ID_COLOUR)
        pixels = self.colour[frame]
        m.stamp_sequence(pixels, sequence)
        return m.image_msg(pixels, "rgb8", stamp_ns, m.FRAME_ID_COLOUR)


def ensure_bag(spec: BagSpec, data_dir: Path = DATA_DIR) -> BenchBag:
    """The bag of `spec` under `data_dir`, written unless a complete one is there already."""
    folder = data_dir / spec.name
    marker = folder / "bench.json"
    identity = {"spec": asdict(spec), "generator": GENERATOR}
    if marker.exists():
        recorded = json.loads(marker.read_text())
        if {key: recorded.get(key) for key in identity} == identity:
            return BenchBag(spec, folder, recorded["images"], recorded["messages"])
    shutil.rmtree(folder, ignore_errors=True)  # an interrupted or outdated bag
    data_dir.mkdir(parents=True, exist_ok=True)
    images, count = write_bag(spec, folder)
    marker.write_text(json.dumps({**identity, "images": images, "messages": count}, indent=2))
    return BenchBag(spec, folder, images, count)


def write_bag(spec: BagSpec, folder: Path) -> tuple[int, int]:
    """Write frames until `spec.size_mb` of messages are in the bag; (images, messages) written."""
    camera = RgbdCamera(spec.colour)
    target_bytes = spec.size_mb * 1_000_000
    written = images = count = 0
    with Writer(folder, version=8, storage_plugin=STORAGES[spec.storage]) as writer:
        connections = {topic: writer.add_connection(topic, t, typestore=m.TYPESTORE) for topic, t in camera.topics.items()}
        sequence = 0
        while written < target_bytes:
            stamp_ns = START_NS + sequence * 1_000_000_000 // RATE_HZ
            for topic, msg in camera.tick(sequence, stamp_ns):
                raw = m.serialize(msg)
                writer.write(connections[topic], stamp_ns + RECORD_DELAY_NS, raw)
                written += len(raw)
                count += 1
                if msg.__msgtype__ != m.CAMERA_INFO_TYPE:
                    images += 1
            sequence += 1
    return images, count


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", nargs="+", type=int, default=[300], metavar="MB")
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=VARIANTS)
    parser.add_argument("--data-dir", type=Path, default=DATA_DIR)
    args = parser.parse_args(argv)
    for size in args.sizes:
        for variant in args.variants:
            bag = ensure_bag(BagSpec.parse(variant, size), args.data_dir)
            print(f"{bag.storage_file}: {bag.file_bytes / 1e6:.0f} MB, {bag.images} images, {bag.messages} messages")


if __name__ == "__main__":
    main()
