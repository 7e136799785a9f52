"""The same .mcap through Rerun's own importer (`rerun mcap convert`) and through our replay: same pixels, same intrinsics.

Known differences, not compared: our DepthImage carries an explicit meter, our
Pinhole a camera_xyz and our EncodedImage a media_type; Rerun's importer shows
mono8/mono16 as DepthImage where we keep an Image (the buffer and format are
compared regardless of the archetype); mono16 is left out.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pyarrow as pa
import pytest
from recordings import camera_info_msg, compressed_msg, image_msg, read_recording, write_bag

from bridge.cli import main

RERUN = Path(sys.executable).parent / "rerun"
T0 = 1_700_000_000_000_000_000
FRAMES = 2
SHAPE = (24, 32)
K = [25.0, 0, 15.5, 0, 26.0, 11.5, 0, 0, 1]


def random_pixels(i: int, channels: int | None, dtype: str = "u1", high: float = 256) -> np.ndarray:
    rng = np.random.default_rng(i)
    shape = SHAPE if channels is None else (*SHAPE, channels)
    if np.dtype(dtype).kind == "f":
        return (rng.random(shape) * high).astype(dtype)
    return rng.integers(0, high, shape).astype(dtype)


# topic -> (encoding, pixels of frame i)
IMAGES = {
    "/rgb8": ("rgb8", lambda i: random_pixels(i, 3)),
    "/bgr8": ("bgr8", lambda i: random_pixels(i, 3)),
    "/rgba8": ("rgba8", lambda i: random_pixels(i, 4)),
    "/mono8": ("mono8", lambda i: random_pixels(i, None)),
    "/bayer_rggb8": ("bayer_rggb8", lambda i: random_pixels(i, None)),
    "/depth_16uc1": ("16UC1", lambda i: random_pixels(i, None, "u2", 5000)),
    "/depth_32fc1": ("32FC1", lambda i: random_pixels(i, None, "f4", 5.0)),
}


def stamp(i: int) -> int:
    return T0 + i * 100_000_000


def bag_messages() -> list[tuple[str, Any, int]]:
    messages = []
    for i in range(FRAMES):
        log = stamp(i) + 1_000_000
        messages += [(topic, image_msg(pixels(i), encoding, stamp(i)), log) for topic, (encoding, pixels) in IMAGES.items()]
        jpeg = cv2.imencode(".jpg", random_pixels(i, 3))[1].tobytes()
        messages += [("/jpeg", compressed_msg(jpeg, "jpeg", stamp(i)), log),
                     ("/camera_info", camera_info_msg(K, SHAPE[1], SHAPE[0], stamp(i)), log)]  # fmt: skip
    return messages


@pytest.fixture(scope="module")
def recordings(tmp_path_factory) -> tuple[pa.Table, pa.Table]:
    """(Rerun's importer's, ours), indexed by ros2_timestamp."""
    if not RERUN.exists():
        pytest.skip(f"no rerun executable next to {sys.executable}")
    tmp = tmp_path_factory.mktemp("crosscheck")
    (mcap,) = write_bag(tmp / "bag", bag_messages()).glob("*.mcap")
    subprocess.run([str(RERUN), "mcap", "convert", str(mcap), "-o", str(tmp / "reference.rrd")],
                   check=True, capture_output=True, timeout=120)  # fmt: skip
    assert main(["replay", "--no-progress", str(mcap), "-o", str(tmp / "ours.rrd")]) == 0
    return read_recording(tmp / "reference.rrd"), read_recording(tmp / "ours.rrd")


def by_stamp(table: pa.Table, entity: str, field: str) -> dict[int, Any]:
    """`entity`'s cells of `field` (from whichever archetype has it) keyed by ros2_timestamp."""
    (name,) = [n for n in table.column_names if n.startswith(f"{entity}:") and n.endswith(f":{field}")]
    stamps = table.column("ros2_timestamp").cast(pa.int64()).to_pylist()
    return {t: cell for t, cell in zip(stamps, table.column(name).to_pylist()) if cell is not None}


def same(reference: pa.Table, ours: pa.Table, entity: str, field: str) -> None:
    expected = by_stamp(reference, entity, field)
    assert sorted(expected) == [stamp(i) for i in range(FRAMES)], f"{entity}:{field} missing from the reference"
    assert by_stamp(ours, entity, field) == expected, f"{entity}:{field} differs"


@pytest.mark.parametrize("topic", IMAGES)
def test_same_pixels_as_rerun_importer(recordings, topic):
    for field in ("buffer", "format"):
        same(*recordings, topic, field)


def test_same_jpeg_as_rerun_importer(recordings):
    same(*recordings, "/jpeg", "blob")  # the importer leaves media_type to the viewer's sniffing; we name it


@pytest.mark.parametrize("field", ["image_from_camera", "resolution", "parent_frame", "child_frame"])
def test_same_pinhole_as_rerun_importer(recordings, field):
    same(*recordings, "/camera_info", field)


@pytest.mark.parametrize("topic", [*IMAGES, "/jpeg"])
def test_images_in_the_same_frame_as_rerun_importer(recordings, topic):
    """Rerun's importer logs the frame on every row, we when it changes: the frames named must be the same."""
    reference, ours = (set(map(tuple, by_stamp(table, topic, "frame").values())) for table in recordings)
    assert ours == reference
