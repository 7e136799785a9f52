"""Every `sensor_msgs/Image` encoding through `convert_image` into a real .rrd.

Each case builds known pixels, wraps them in a message the way a driver lays
them out (row padding, big-endian words, packed YUV, planar NV), converts it,
and checks the format and bytes that Rerun stored. The expectations below are
written from the ROS and Rerun definitions, not from `image.py`'s table.
"""

from __future__ import annotations

import array
import dataclasses
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest
import rerun as rr

from bridge.conversion import DEFAULT_MAX_PIXELS, ConversionError, DepthOptions, convert_image
from bridge.conversion.image import ENCODINGS
from readback import read_back
from recordings import image_msg

WIDTH, HEIGHT = 6, 4
PAD = 5  # odd row padding, so that multi-byte rows start misaligned
RNG = np.random.default_rng(104)

DATATYPES = {
    "u1": rr.ChannelDatatype.U8, "i1": rr.ChannelDatatype.I8, "u2": rr.ChannelDatatype.U16,
    "i2": rr.ChannelDatatype.I16, "i4": rr.ChannelDatatype.I32, "f4": rr.ChannelDatatype.F32,
    "f8": rr.ChannelDatatype.F64,
}  # fmt: skip
GENERIC_TYPES = {"8U": "u1", "8S": "i1", "16U": "u2", "16S": "i2", "32S": "i4", "32F": "f4", "64F": "f8"}
# encoding -> (sample type, channels, Rerun colour model; None: no colour model, logged as a Tensor)
INTERLEAVED = {
    "rgb8": ("u1", 3, rr.ColorModel.RGB), "rgba8": ("u1", 4, rr.ColorModel.RGBA),
    "rgb16": ("u2", 3, rr.ColorModel.RGB), "rgba16": ("u2", 4, rr.ColorModel.RGBA),
    "bgr8": ("u1", 3, rr.ColorModel.BGR), "bgra8": ("u1", 4, rr.ColorModel.BGRA),
    "bgr16": ("u2", 3, rr.ColorModel.BGR), "bgra16": ("u2", 4, rr.ColorModel.BGRA),
    "mono8": ("u1", 1, rr.ColorModel.L), "mono16": ("u2", 1, rr.ColorModel.L),
    # The generic family has no colour semantics; like cv_bridge, 3 and 4 channels are taken as BGR(A).
    **{
        f"{prefix}C{channels}": (code, channels, model)
        for prefix, code in GENERIC_TYPES.items()
        for channels, model in {1: rr.ColorModel.L, 2: None, 3: rr.ColorModel.BGR, 4: rr.ColorModel.BGRA}.items()
    },
}  # fmt: skip
BAYER = {"RGGB": rr.PixelFormat.BayerRGGB8, "BGGR": rr.PixelFormat.BayerBGGR8,
         "GBRG": rr.PixelFormat.BayerGBRG8, "GRBG": rr.PixelFormat.BayerGRBG8}  # fmt: skip
TENSOR_DIMS = ["height", "width", "channel"]  # two-channel images have no colour model: a Tensor
UNIFORM_RGB16 = (1000, 30000, 65000)  # distinct channels: a wrong Bayer mapping swaps or mixes them


@dataclass(frozen=True)
class Case:
    """One message, and the fields Rerun must store for it."""

    name: str  # also the entity path
    msg: Any
    archetype: str
    fields: dict[str, Any]
    as_depth: bool | None = None
    depth: DepthOptions = field(default_factory=DepthOptions)

    def convert(self) -> Any:
        return convert_image(self.msg, as_depth=self.as_depth, depth=self.depth)


def image_format(pixel_format=None, color_model=None, datatype=None) -> dict:
    """The `ImageFormat` of a WIDTH x HEIGHT image as Rerun stores it: enums by value, None where unset."""
    return {
        "width": WIDTH, "height": HEIGHT, "pixel_format": getattr(pixel_format, "value", None),
        "color_model": getattr(color_model, "value", None), "channel_datatype": getattr(datatype, "value", None),
    }  # fmt: skip


def random_samples(shape: tuple[int, ...], code: str) -> np.ndarray:
    dtype = np.dtype(code)
    if dtype.kind == "f":
        return RNG.normal(0, 1e3, shape).astype(dtype)
    info = np.iinfo(dtype)
    return RNG.integers(info.min, info.max, shape, dtype=dtype, endpoint=True)


def layouts(itemsize: int) -> list[tuple[str, bool, bool]]:
    """(suffix, padded, big-endian): byte order matters only for multi-byte samples."""
    return [("tight", False, False), ("padded", True, False)] + ([("padded_be", True, True)] if itemsize > 1 else [])


def padded_step(row_bytes: int, padded: bool) -> int:
    return row_bytes + PAD if padded else row_bytes


def interleaved_cases() -> list[Case]:
    cases = []
    for encoding, (code, channels, model) in INTERLEAVED.items():
        shape = (HEIGHT, WIDTH) if channels == 1 else (HEIGHT, WIDTH, channels)
        for suffix, padded, big in layouts(np.dtype(code).itemsize):
            pixels = random_samples(shape, code)
            step = padded_step(WIDTH * channels * pixels.itemsize, padded)
            msg = image_msg(pixels, encoding, step=step, big_endian=big)
            if model is None:
                data = {"shape": list(shape), "names": TENSOR_DIMS, "buffer": pixels.ravel().tolist()}
                expected = ("Tensor", {"data": data})
            else:
                fmt = image_format(color_model=model, datatype=DATATYPES[code])
                expected = ("Image", {"format": fmt, "buffer": list(pixels.tobytes())})
            # 16UC1 and 32FC1 default to depth; here they are forced to images (depth is tested below).
            cases.append(Case(f"/{encoding}/{suffix}", msg, *expected, as_depth=False))
    return cases


def bayer8_cases() -> list[Case]:
    cases = []
    for pattern, pixel_format in BAYER.items():
        for suffix, padded, _ in layouts(1):
            mosaic = random_samples((HEIGHT, WIDTH), "u1")
            msg = image_msg(mosaic, f"bayer_{pattern.lower()}8", step=padded_step(WIDTH, padded))
            fields = {"format": image_format(pixel_format=pixel_format), "buffer": list(mosaic.tobytes())}
            cases.append(Case(f"/bayer_{pattern.lower()}8/{suffix}", msg, "Image", fields))
    return cases


def uniform_mosaic(pattern: str, rgb: tuple[int, int, int]) -> np.ndarray:
    """The raw sensor image of a uniformly coloured scene; `pattern` names the top-left 2x2 row by row."""
    value = dict(zip("RGB", rgb))
    mosaic = np.empty((HEIGHT, WIDTH), np.uint16)
    for i, channel in enumerate(pattern):
        mosaic[i // 2 :: 2, i % 2 :: 2] = value[channel]
    return mosaic


def bayer16_cases() -> list[Case]:
    """Rerun has no 16-bit Bayer format: the bridge demosaics, and a uniform scene must come out uniform."""
    cases = []
    for pattern in BAYER:
        for suffix, padded, big in layouts(2):
            mosaic = uniform_mosaic(pattern, UNIFORM_RGB16)
            msg = image_msg(mosaic, f"bayer_{pattern.lower()}16", step=padded_step(2 * WIDTH, padded), big_endian=big)
            rgb = np.empty((HEIGHT, WIDTH, 3), np.uint16)
            rgb[...] = UNIFORM_RGB16
            fields = {"format": image_format(color_model=rr.ColorModel.RGB, datatype=rr.ChannelDatatype.U16),
                      "buffer": list(rgb.tobytes())}  # fmt: skip
            cases.append(Case(f"/bayer_{pattern.lower()}16/{suffix}", msg, "Image", fields))
    return cases


def yuv_planes(chroma_shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return random_samples((HEIGHT, WIDTH), "u1"), random_samples(chroma_shape, "u1"), random_samples(chroma_shape, "u1")


def packed_422(first: np.ndarray, second: np.ndarray, third: np.ndarray, fourth: np.ndarray) -> np.ndarray:
    """Rows of 4-byte groups, each covering two pixels."""
    return np.stack([first, second, third, fourth], axis=-1).reshape(HEIGHT, 2 * WIDTH)


def yuv422_cases() -> list[Case]:
    """YUY2 goes through as it is; UYVY (ROS `yuv422`) must reach Rerun reordered into YUY2."""
    cases = []
    for encoding in ("yuv422_yuy2", "yuyv", "yuv422", "uyvy"):
        for suffix, padded, _ in layouts(1):
            y, u, v = yuv_planes((HEIGHT, WIDTH // 2))
            y0, y1 = y[:, 0::2], y[:, 1::2]
            yuy2 = packed_422(y0, u, y1, v)
            wire = yuy2 if encoding in ("yuv422_yuy2", "yuyv") else packed_422(u, y0, v, y1)
            msg = image_msg(wire, encoding, step=padded_step(2 * WIDTH, padded), width=WIDTH)
            fields = {"format": image_format(pixel_format=rr.PixelFormat.YUY2), "buffer": list(yuy2.tobytes())}
            cases.append(Case(f"/{encoding}/{suffix}", msg, "Image", fields))
    return cases


def interleave(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    return np.stack([first, second], axis=-1).reshape(first.shape[0], -1)


def nv_cases() -> list[Case]:
    """NV12 goes through as it is, NV21 is handed over as NV12 (U and V swapped back), NV24 as planar YUV 4:4:4."""
    cases = []
    for suffix, padded, _ in layouts(1):
        step = padded_step(WIDTH, padded)
        y, u, v = yuv_planes((HEIGHT // 2, WIDTH // 2))
        nv12 = np.concatenate([y, interleave(u, v)])
        for encoding, wire in (("nv12", nv12), ("nv21", np.concatenate([y, interleave(v, u)]))):
            msg = image_msg(wire, encoding, step=step, width=WIDTH, height=HEIGHT)
            fields = {"format": image_format(pixel_format=rr.PixelFormat.NV12), "buffer": list(nv12.tobytes())}
            cases.append(Case(f"/{encoding}/{suffix}", msg, "Image", fields))

        y, u, v = yuv_planes((HEIGHT, WIDTH))
        # The Y plane has rows of `step` bytes; the UV plane, twice as wide, rows of twice that.
        y_rows = image_msg(y, "nv24", step=step).data
        uv_rows = image_msg(interleave(u, v), "nv24", step=2 * step).data
        msg = dataclasses.replace(image_msg(y, "nv24", step=step), data=np.concatenate([y_rows, uv_rows]))
        planar = np.concatenate([y.ravel(), u.ravel(), v.ravel()])
        fields = {"format": image_format(pixel_format=rr.PixelFormat.Y_U_V24_LimitedRange), "buffer": list(planar)}
        cases.append(Case(f"/nv24/{suffix}", msg, "Image", fields))
    return cases


def depth_fields(pixels: np.ndarray, meter: float, **options: Any) -> dict[str, Any]:
    fmt = image_format(datatype=DATATYPES[pixels.dtype.str[1:]])
    return {"format": fmt, "buffer": list(pixels.tobytes()), "meter": meter, **options}


MILLIMETRES = np.array([[0, 1, 500, 65535, 0, 1200]] * HEIGHT, np.uint16)  # 0 = no depth
METRES = np.array([[np.nan, 0.0, 0.25, 1.5, np.inf, 7.0]] * HEIGHT, np.float32)  # NaN, 0, inf = no depth


def depth_cases() -> list[Case]:
    options = DepthOptions(meter=500.0, colormap="viridis", depth_range=(0.5, 4.0), point_fill_ratio=0.25)
    arrived_options = {  # the range is configured in metres, Rerun stores it in depth units
        "colormap": rr.components.Colormap.Viridis.value, "depth_range": [250.0, 2000.0], "point_fill_ratio": 0.25
    }  # fmt: skip
    mono16 = {"format": image_format(color_model=rr.ColorModel.L, datatype=rr.ChannelDatatype.U16),
              "buffer": list(MILLIMETRES.tobytes())}  # fmt: skip
    return [
        Case("/depth/16UC1", image_msg(MILLIMETRES, "16UC1"), "DepthImage", depth_fields(MILLIMETRES, 1000.0)),
        Case("/depth/16UC1_padded_be", image_msg(MILLIMETRES, "16UC1", step=2 * WIDTH + PAD, big_endian=True),
             "DepthImage", depth_fields(MILLIMETRES, 1000.0)),
        Case("/depth/32FC1", image_msg(METRES, "32FC1"), "DepthImage", depth_fields(METRES, 1.0)),
        Case("/depth/32FC1_padded_be", image_msg(METRES, "32FC1", step=4 * WIDTH + PAD, big_endian=True),
             "DepthImage", depth_fields(METRES, 1.0)),
        Case("/depth/mono16_default", image_msg(MILLIMETRES, "mono16"), "Image", mono16),
        Case("/depth/mono16_as_depth", image_msg(MILLIMETRES, "mono16"), "DepthImage",
             depth_fields(MILLIMETRES, 1000.0), as_depth=True),
        Case("/depth/16UC1_options", image_msg(MILLIMETRES, "16UC1"), "DepthImage",
             depth_fields(MILLIMETRES, 500.0, **arrived_options), depth=options),
        Case("/depth/32FC1_options", image_msg(METRES, "32FC1"), "DepthImage",
             depth_fields(METRES, 500.0, **arrived_options), depth=options),
    ]  # fmt: skip


CASES = interleaved_cases() + bayer8_cases() + bayer16_cases() + yuv422_cases() + nv_cases() + depth_cases()


@pytest.fixture(scope="module")
def arrived(tmp_path_factory) -> dict[str, dict[str, Any]]:
    """Every case converted and logged into one recording, read back through Rerun."""
    path = tmp_path_factory.mktemp("images") / "images.rrd"
    return read_back(path, {case.name: case.convert() for case in CASES})


def test_every_encoding_has_a_case():
    covered = {case.msg.encoding for case in CASES}
    assert covered == set(ENCODINGS)


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_what_rerun_stores(case: Case, arrived):
    stored = arrived[case.name]
    assert stored["archetype"] == case.archetype
    assert {name: stored.get(name) for name in case.fields} == case.fields


def mono8(**kwargs: Any):
    return image_msg(np.zeros((HEIGHT, WIDTH), np.uint8), "mono8", **kwargs)


def truncated(msg, missing: int):
    return dataclasses.replace(msg, data=msg.data[:-missing])


@pytest.mark.parametrize(
    ("msg", "as_depth", "problem"),
    [
        (truncated(mono8(), 1), None, r"data is 23 bytes, 6x4 'mono8' with step 6 needs 24"),
        (truncated(mono8(step=WIDTH + PAD), PAD + 1), None, r"data is 38 bytes, .* needs 39"),
        (truncated(image_msg(np.zeros((3, 4), np.uint8), "nv12", width=4, height=2), 1), None,
         r"data is 11 bytes, .* needs 12"),
        (dataclasses.replace(image_msg(np.zeros((4, 6, 3), np.uint8), "rgb8"), step=17), None,
         r"step 17 is too small for width 6 of 'rgb8' \(needs >= 18\)"),
        (dataclasses.replace(mono8(), encoding="rgb9"), None, r"unknown encoding 'rgb9'"),
        (dataclasses.replace(mono8(), encoding=""), None, r"unknown encoding ''"),
        (dataclasses.replace(mono8(), width=0), None, r"empty image \(0x4\)"),
        (dataclasses.replace(mono8(), height=0), None, r"empty image \(6x0\)"),
        (dataclasses.replace(mono8(), width=-6, height=-4), None, r"empty image \(-6x-4\)"),
        (image_msg(np.zeros((4, 10), np.uint8), "yuv422", width=5), None, r"'yuv422' needs an even size, got 5x4"),
        (image_msg(np.zeros((4, 6), np.uint8), "nv12", width=6, height=3), None, r"'nv12' needs an even size, got 6x3"),
        (image_msg(np.zeros((4, 6, 3), np.uint8), "rgb8"), True, r"'rgb8' cannot be shown as depth"),
        (image_msg(np.zeros((4, 6), np.uint8), "bayer_rggb8"), True, r"'bayer_rggb8' cannot be shown as depth"),
    ],
    ids=["short", "short_padded", "short_nv12", "step_too_small", "unknown", "no_encoding", "zero_width",
         "zero_height", "negative_size", "odd_yuv422", "odd_nv12", "rgb8_as_depth", "bayer_as_depth"],
)  # fmt: skip
def test_malformed_image_is_a_conversion_error(msg, as_depth, problem):
    with pytest.raises(ConversionError, match=problem):
        convert_image(msg, as_depth=as_depth)


def test_last_row_may_omit_its_padding():
    """Data of `step * (height - 1) + row bytes` holds every pixel, so the image converts."""
    pixels = random_samples((HEIGHT, WIDTH), "u1")
    image = convert_image(truncated(image_msg(pixels, "mono8", step=WIDTH + PAD), PAD))
    assert bytes(image.buffer.as_arrow_array().to_pylist()[0]) == pixels.tobytes()


@pytest.mark.parametrize(
    "wrap", [bytes, memoryview, lambda data: array.array("B", data.tobytes())], ids=["bytes", "memoryview", "array"]
)
def test_data_may_be_any_bytes_like(wrap):
    """rosbags gives a NumPy array, rclpy an `array.array`, hand-made messages `bytes`."""
    pixels = random_samples((HEIGHT, WIDTH, 3), "u1")
    msg = image_msg(pixels, "rgb8", step=3 * WIDTH + PAD)
    image = convert_image(dataclasses.replace(msg, data=wrap(msg.data)))
    assert bytes(image.buffer.as_arrow_array().to_pylist()[0]) == pixels.tobytes()


@pytest.mark.parametrize(
    ("encoding", "pixels"),
    [("mono8", np.zeros((HEIGHT, WIDTH), np.uint8)), ("bayer_rggb16", uniform_mosaic("RGGB", UNIFORM_RGB16)),
     ("nv12", np.zeros((HEIGHT * 3 // 2, WIDTH), np.uint8)), ("32FC1", METRES)],
)  # fmt: skip
def test_pixel_limit_is_inclusive(encoding, pixels):
    """A frame of exactly `max_pixels` converts; one pixel fewer allowed and it is rejected before any copy."""
    msg = image_msg(pixels, encoding, width=WIDTH, height=HEIGHT)
    limit = WIDTH * HEIGHT
    assert convert_image(msg, max_pixels=limit) is not None
    with pytest.raises(ConversionError, match=rf"image of {WIDTH}x{HEIGHT} exceeds the limit of {limit - 1} pixels"):
        convert_image(msg, max_pixels=limit - 1)


def test_declared_size_beyond_the_default_limit_is_rejected_first():
    """16-bit Bayer is demosaiced to three times its size: the declared size is checked before anything else."""
    msg = dataclasses.replace(mono8(), encoding="bayer_bggr16", width=65536, height=65536, step=131072)
    with pytest.raises(ConversionError, match=rf"image of 65536x65536 exceeds the limit of {DEFAULT_MAX_PIXELS} "):
        convert_image(msg)
