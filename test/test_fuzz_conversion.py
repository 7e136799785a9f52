"""Seeded fuzzing of every conversion: whatever a message holds, it converts or raises ConversionError.

Each message kind starts from something valid and is mutated field by field: sizes, steps, encodings, data
lengths and byte order for Image; format strings, truncation, bit flips, garbage and forged lengths for
CompressedImage (PNG CRCs are sometimes recomputed, so that mutations also reach past the checksums into
the headers and the decoder); NaN, inf, 1e308, zeros, binning and ROI for CameraInfo; NaN, inf, zero
quaternions and empty or equal frame names for TF.

Any exception other than ConversionError fails, and so does memory beyond what a frame of MAX_PIXELS and
the message itself can need: every conversion runs under tracemalloc, which counts NumPy's (and so
OpenCV's) arrays. Hypothesis is derandomized and keeps no example database: every run tries the same
examples.
"""

from __future__ import annotations

import math
import re
import struct
import tracemalloc
import zlib
from contextlib import contextmanager
from types import SimpleNamespace as Msg
from typing import Any, Callable, Iterator

import numpy as np
import pytest
import rerun as rr
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from bridge.conversion import (
    ConversionError,
    Intrinsics,
    closes_cycle,
    convert_compressed_image,
    convert_image,
    pinhole_from_camera_info,
    transform_columns,
    transforms_by_stamp,
)
from bridge.conversion.image import ENCODINGS, Layout
from bridge.conversion.warm_up import warm_up
from test_compressed import BOMBS, ENCODED, compressed_depth, depth_png, depth_rvl, png_of_zeros
from test_rvl import zero_run

MAX_PIXELS = 64 * 64  # small, so that declared sizes beyond it are common
BYTES_PER_PIXEL = 64  # the most any conversion holds per allowed pixel (with its copies and masks)
BYTES_PER_INPUT_BYTE = 100  # RVL splits its stream into int64 varints: ~64 bytes per byte of stream at worst
FUZZ = settings(derandomize=True, database=None, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Values that break naive code: non-finite, beyond float32, zero, tiny, negative.
SPECIAL_FLOATS = [math.nan, math.inf, -math.inf, 1e308, -1e308, 3.5e38, 0.0, -0.0, 1e-300, 1e-40, -1.0, 1.0]
# Sizes and offsets: empty, odd, negative (hand-made messages), and far beyond any frame.
SPECIAL_INTS = [0, 1, 3, -1, 65535, 2**31 - 1, 2**32 - 1, 2**40]


@pytest.fixture(scope="module", autouse=True)
def warm() -> None:
    """Every conversion run once: what is imported or cached on first use is not the conversion's memory."""
    warm_up()
    convert_image(Msg(encoding="8UC2", width=1, height=1, step=2, is_bigendian=0, data=bytes(2)))  # a Tensor
    for fmt, data in VALID_COMPRESSED:
        convert_compressed_image(Msg(format=fmt, data=data))


@contextmanager
def bounded_memory(input_bytes: int) -> Iterator[None]:
    """Fail when the block allocates more than MAX_PIXELS and `input_bytes` justify (traced only here: slow)."""
    tracemalloc.start()
    try:
        yield
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    budget = BYTES_PER_PIXEL * MAX_PIXELS + BYTES_PER_INPUT_BYTE * input_bytes + 2**20  # and the archetype's arrays
    assert peak <= budget, f"allocated {peak} bytes, more than {budget}"


def converted(convert: Callable[..., Any], msg: Any, input_bytes: int, **kwargs: Any) -> Any | None:
    """What `convert` returns, or None for a ConversionError; any other exception propagates and fails the test."""
    with bounded_memory(input_bytes):
        try:
            result = convert(msg, **kwargs)
        except ConversionError as err:
            assert str(err), "a ConversionError must say what is wrong"
            event("rejected", NUMBERS.sub("#", str(err)))  # counted by --hypothesis-show-statistics
            return None
    event("converted", type(result).__name__)
    return result


NUMBERS = re.compile(r"\d+(\.\d+)?(e[-+]?\d+)?")
RARELY = st.sampled_from([False, False, False, False, True])


def rarely(special: list, natural: st.SearchStrategy) -> st.SearchStrategy:
    """Mostly `natural` values, one time in five a `special` one."""
    return RARELY.flatmap(lambda is_special: st.sampled_from(special) if is_special else natural)


def sizes(natural: st.SearchStrategy[int]) -> st.SearchStrategy[int]:
    return rarely(SPECIAL_INTS, natural)


def floats(natural: st.SearchStrategy[float]) -> st.SearchStrategy[float]:
    return rarely(SPECIAL_FLOATS, natural)


# -- Image --------------------------------------------------------------------------------------------------

ROWS = {Layout.NV12: 1.5, Layout.NV21: 1.5, Layout.NV24: 3.0}  # rows of `step` bytes per image row
BAD_ENCODINGS = ["", "rgb9", "bayer_rggb", "32FC", "16uc1"]


@st.composite
def image_messages(draw: st.DrawFn) -> Msg:
    """An Image whose step and data fit its encoding and size, then some of its fields changed."""
    name = draw(st.sampled_from(sorted(ENCODINGS)))
    encoding = ENCODINGS[name]
    width, height = draw(sizes(st.integers(1, 48))), draw(sizes(st.integers(1, 48)))
    row_bytes = width * encoding.channels * encoding.dtype.itemsize
    step = row_bytes + draw(st.sampled_from([0, 0, 0, 1, 3, 8]))
    data_bytes = int(step * height * ROWS.get(encoding.layout, 1.0))
    if not 0 <= data_bytes <= 2**20:  # a size beyond memory: the data cannot be there
        data_bytes = draw(st.integers(0, 4096))
    msg = Msg(encoding=name, width=width, height=height, step=step, is_bigendian=draw(st.sampled_from([0, 0, 1, 2])),
              data=np.zeros(0, np.uint8))  # fmt: skip
    for field in draw(st.lists(st.sampled_from(["encoding", "width", "height", "step", "data"]), max_size=3)):
        if field == "encoding":
            msg.encoding = draw(st.sampled_from([name.upper(), name.lower(), *BAD_ENCODINGS]))
        elif field == "data":
            data_bytes = max(0, data_bytes + draw(st.sampled_from([-1, -2, -abs(step) - 1, 1, 3])))  # a row short
        else:
            setattr(msg, field, draw(sizes(st.integers(0, 64))))
    msg.data = draw(st.binary(min_size=data_bytes, max_size=data_bytes)) if data_bytes <= 64 else bytes(data_bytes)
    return msg


@settings(FUZZ, max_examples=600)
@given(msg=image_messages(), as_depth=st.sampled_from([None, True, False]))
def test_image(msg, as_depth):
    result = converted(convert_image, msg, len(msg.data), as_depth=as_depth, max_pixels=MAX_PIXELS)
    if result is not None:
        assert isinstance(result, (rr.Image, rr.DepthImage, rr.Tensor))
        assert 0 < msg.width * msg.height <= MAX_PIXELS


# -- CompressedImage --------------------------------------------------------------------------------------

FORMATS = [
    "jpeg", "png", "", "rgb8; jpeg compressed bgr8", "bgr8; png compressed bgr8", "16UC1; compressedDepth",
    "16UC1; compressedDepth png", "16UC1; compressedDepth rvl", "32FC1; compressedDepth png",
    "32FC1; compressedDepth rvl", "32FC1; compressedDepth", "8UC1; compressedDepth png", "16UC1; compressedDepth zstd",
    "16UC1;compressedDepth", "  16uc1 ;  compresseddepth   RVL ", "compressedDepth", ";", "tiff",
]  # fmt: skip
VALID_COMPRESSED = [(fmt, data) for fmt, data, _ in ENCODED.values()] + [  # (format string, data) of every kind
    compressed_depth(encoding, codec) for encoding in ("16UC1", "32FC1") for codec in ("png", "rvl")
]
COMPRESSED = [  # to be mutated: those, the bombs of test_compressed, and sizes either side of MAX_PIXELS
    *VALID_COMPRESSED,
    *BOMBS.values(),
    *(depth_rvl(width, 64, zero_run(width * 64), "32FC1") for width in (64, 65)),
    *(depth_png(png_of_zeros(width, 64), "32FC1") for width in (64, 65)),
    *(("png", png_of_zeros(width, 64, bit_depth=8)) for width in (64, 65)),
]


FORGED_LENGTHS = [b"\xff\xff\xff\xff", b"\x00\x00\x00\x00", b"\x7f\xff\xff\xff"]  # as lengths, sizes, counts


def with_png_crcs(data: bytes, start: int) -> bytes:
    """`data` with the CRC of every whole PNG chunk from byte `start` recomputed: mutations then pass the CRCs."""
    fixed = bytearray(data)
    pos = start
    while pos + 12 <= len(fixed):
        (length,) = struct.unpack_from(">I", fixed, pos)
        end = pos + 12 + length
        if end > len(fixed):
            break
        struct.pack_into(">I", fixed, end - 4, zlib.crc32(fixed[pos + 4 : end - 4]))
        pos = end
    return bytes(fixed)


@st.composite
def mutated(draw: st.DrawFn, data: bytes) -> bytes:
    """`data` after a few truncations, bit flips, overwrites (forged lengths and sizes), insertions or appends."""
    for _ in range(draw(st.sampled_from([0, 1, 1, 2, 3]))):
        if not data:
            break
        at = draw(st.one_of(st.integers(0, len(data) - 1), st.integers(max(0, len(data) - 64), len(data) - 1)))
        operation = draw(st.sampled_from(["truncate", "flip", "overwrite", "insert", "append"]))
        if operation == "truncate":
            data = data[:at]
        elif operation == "flip":
            data = data[:at] + bytes([data[at] ^ (1 << draw(st.integers(0, 7)))]) + data[at + 1 :]
        elif operation == "overwrite":
            patch = draw(st.one_of(st.binary(min_size=1, max_size=4), st.sampled_from(FORGED_LENGTHS)))
            data = data[:at] + patch + data[at + len(patch) :]
        elif operation == "insert":
            data = data[:at] + draw(st.binary(min_size=1, max_size=16)) + data[at:]
        else:
            data += draw(st.binary(min_size=1, max_size=16))
    if draw(st.booleans()):
        png_start = data.find(b"\x89PNG")
        if png_start >= 0:
            data = with_png_crcs(data, png_start + 8)
    return data


@st.composite
def compressed_messages(draw: st.DrawFn) -> Msg:
    fmt, data = draw(st.sampled_from(COMPRESSED))
    data = draw(mutated(data))
    if draw(RARELY):
        fmt = draw(st.one_of(st.sampled_from(FORMATS), st.text(max_size=24)))
    if draw(RARELY):
        data = draw(st.binary(max_size=64))
    return Msg(format=fmt, data=data)


@settings(FUZZ, max_examples=1000)
@given(msg=compressed_messages(), as_depth=st.sampled_from([None, None, None, True, False]))
def test_compressed_image(msg, as_depth):
    result = converted(convert_compressed_image, msg, len(msg.data), as_depth=as_depth, max_pixels=MAX_PIXELS)
    if isinstance(result, rr.DepthImage):  # decoded here
        fmt = result.format.as_arrow_array().to_pylist()[0]
        assert fmt["width"] * fmt["height"] <= MAX_PIXELS
    elif result is not None:  # for the viewer to decode
        assert isinstance(result, (rr.EncodedImage, rr.EncodedDepthImage))
        blob = bytes(result.blob.as_arrow_array().to_pylist()[0])
        if blob.startswith(b"\x89PNG"):  # IHDR comes first
            width, height = struct.unpack_from(">II", blob, 16)
            assert width * height <= MAX_PIXELS


# -- CameraInfo ---------------------------------------------------------------------------------------------

K = [610.5, 0.0, 322.75, 0.0, 598.25, 241.125, 0.0, 0.0, 1.0]
P = [600.0, 0.0, 318.0, -36.0, 0.0, 590.0, 236.0, 0.0, 0.0, 0.0, 1.0, 0.0]


@st.composite
def matrices(draw: st.DrawFn, valid: list[float]) -> list[float]:
    """`valid` with some values replaced, now and then of the wrong length (a hand-made message)."""
    values = list(valid)
    for index in draw(st.lists(st.integers(0, len(values) - 1), max_size=3)):
        values[index] = draw(floats(st.floats(-1e4, 1e4)))
    if draw(RARELY) and draw(RARELY):
        values = values[: draw(st.integers(0, len(values)))] + [1.0] * draw(st.integers(0, 3))
    return values


@st.composite
def camera_info_messages(draw: st.DrawFn) -> Msg:
    small = st.integers(0, 4)
    roi = Msg(x_offset=draw(sizes(st.integers(0, 700))), y_offset=draw(sizes(st.integers(0, 500))),
              width=draw(sizes(st.sampled_from([0, 320, 640]))), height=draw(sizes(st.sampled_from([0, 240, 480]))),
              do_rectify=False)  # fmt: skip
    if draw(st.booleans()):
        roi.x_offset = roi.y_offset = roi.width = roi.height = 0  # the full image, as most drivers send
    return Msg(k=draw(matrices(K)), p=draw(matrices(P)), width=draw(sizes(st.just(640))),
               height=draw(sizes(st.just(480))), binning_x=draw(sizes(small)), binning_y=draw(sizes(small)),
               roi=roi)  # fmt: skip


@settings(FUZZ, max_examples=400)
@given(msg=camera_info_messages(), intrinsics=st.sampled_from(list(Intrinsics)), frame=st.sampled_from(["", "cam"]))
def test_camera_info(msg, intrinsics, frame):
    pinhole = converted(lambda m: pinhole_from_camera_info(m, frame, intrinsics), msg, 0)
    if pinhole is not None:  # what Rerun stores (float32) is a usable camera
        matrix = np.array(pinhole.image_from_camera.as_arrow_array().to_pylist()[0], np.float32).reshape(3, 3).T
        width, height = pinhole.resolution.as_arrow_array().to_pylist()[0]
        assert np.all(np.isfinite(matrix)) and matrix[0, 0] > 0 and matrix[1, 1] > 0
        assert width >= 1 and height >= 1


# -- TF -------------------------------------------------------------------------------------------------------

FRAMES = rarely([""], st.sampled_from(["map", "odom", "base_link", "camera", "lidar", "imu"]))
QUATERNIONS = [(0.0, 0.0, 0.0, 1.0), (0.0, 0.0, 0.0, 0.0), (1e-30, 0.0, 0.0, 0.0), (1e30, 1e30, 0.0, 0.0),
               (0.0, 0.0, 0.0, 1.0001), (math.nan, 0.0, 0.0, 1.0), (0.0, math.inf, 0.0, 0.0)]  # fmt: skip


@st.composite
def transforms(draw: st.DrawFn) -> Msg:
    stamp = Msg(sec=draw(st.sampled_from([0, 1, 2**31 - 1])), nanosec=999_999_999)
    xyz = [draw(floats(st.floats(-100, 100))) for _ in range(3)]
    quaternion = draw(st.one_of(st.sampled_from(QUATERNIONS), st.tuples(*[st.floats(-1, 1)] * 4)))
    return Msg(
        header=Msg(stamp=stamp, frame_id=draw(FRAMES)),
        child_frame_id=draw(FRAMES),
        transform=Msg(translation=Msg(x=xyz[0], y=xyz[1], z=xyz[2]),
                      rotation=Msg(x=quaternion[0], y=quaternion[1], z=quaternion[2], w=quaternion[3])),
    )  # fmt: skip


@settings(FUZZ, max_examples=300)
@given(msg=st.builds(Msg, transforms=st.lists(transforms(), max_size=6)))
def test_tf(msg):
    with bounded_memory(0):
        result = transforms_by_stamp(msg)
    for reason in result.rejected:
        event("rejected", reason.partition(": ")[2])
    usable = {id(t) for group in result.groups.values() for t in group}
    rejected = [t for t in msg.transforms if id(t) not in usable]
    assert len(result.rejected) == len(rejected)
    for reason, transform in zip(result.rejected, rejected):  # each reason names its transform's frames
        parent, child = transform.header.frame_id or "''", transform.child_frame_id or "''"
        assert reason.startswith(f"transform {parent} -> {child}: ")
    for group in result.groups.values():
        columns = {c.component_descriptor().component: c for c in transform_columns(group)}  # what Rerun stores
        translations = np.array([row[0] for row in columns["Transform3D:translation"].as_arrow_array().to_pylist()], np.float32)
        quaternions = np.array([row[0] for row in columns["Transform3D:quaternion"].as_arrow_array().to_pylist()], np.float32)
        with np.errstate(over="ignore"):
            squared_norms = np.einsum("ij,ij->i", quaternions, quaternions)
        assert np.all(np.isfinite(translations)) and np.all((0 < squared_norms) & (squared_norms < np.inf))
        assert all(t.header.frame_id and t.header.frame_id != t.child_frame_id for t in group)


TREE_FRAMES = [f"f{i}" for i in range(9)]


@st.composite
def trees(draw: st.DrawFn) -> dict[str, str]:
    """A frame tree as tf2 keeps it, child -> parent: each frame's parent is one named before it."""
    names = TREE_FRAMES[: draw(st.integers(1, 8))]
    return {name: draw(st.sampled_from(names[:i])) for i, name in enumerate(names) if i and draw(st.booleans())}


def has_loop(parents: dict[str, str]) -> bool:
    for start in parents:
        seen, frame = set(), start
        while frame in parents:
            if frame in seen:
                return True
            seen.add(frame)
            frame = parents[frame]
    return False


@settings(FUZZ, max_examples=300)
@given(parents=trees(), parent=st.sampled_from(TREE_FRAMES), child=st.sampled_from(TREE_FRAMES))
def test_closes_cycle_is_exactly_a_loop_in_the_new_tree(parents, parent, child):
    assert closes_cycle(parents, parent, child) == (parent == child or has_loop({**parents, child: parent}))
