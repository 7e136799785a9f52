"""`sensor_msgs/Image` to `rr.Image` / `rr.DepthImage`.

Every encoding of ROS 2's `sensor_msgs/image_encodings.hpp` is handled. Rerun's
own layouts (BGR colour models, Bayer, YUY2 and NV12 pixel formats) are used
wherever Rerun has one, so most images reach Rerun as views of the message
buffer; only what Rerun cannot show is converted (16-bit Bayer is demosaiced,
UYVY and NV21 are reordered into YUY2 and NV12, big-endian data is swapped).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum, auto
from typing import Any, Protocol

import numpy as np
import rerun as rr

from . import archetypes
from .errors import ConversionError
from .options import DEFAULT_MAX_PIXELS, DepthCompression, DepthOptions, check_size
from .rvl import MEDIA_TYPE as RVL_MEDIA_TYPE
from .rvl import ros_rvl_payload


class ImageMsg(Protocol):
    """The fields of `sensor_msgs/msg/Image` that conversion reads."""

    height: int
    width: int
    encoding: str
    is_bigendian: int
    step: int
    data: Any  # bytes-like: numpy uint8 array (rosbags), array.array (rclpy), bytes


class Layout(Enum):
    """How the pixels of an encoding lie in `data`."""

    INTERLEAVED = auto()  # `channels` samples of `dtype` per pixel
    BAYER8 = auto()  # one uint8 sample per pixel, Rerun demosaics
    BAYER16 = auto()  # one uint16 sample per pixel, demosaiced here
    YUYV = auto()  # 4:2:2 packed Y0 U Y1 V (Rerun's YUY2)
    UYVY = auto()  # 4:2:2 packed U Y0 V Y1
    NV12 = auto()  # Y plane, then interleaved U V at half resolution
    NV21 = auto()  # Y plane, then interleaved V U at half resolution
    NV24 = auto()  # Y plane, then interleaved U V at full resolution


@dataclass(frozen=True)
class Encoding:
    layout: Layout
    dtype: np.dtype
    channels: int = 1
    color_model: str | None = None  # for INTERLEAVED
    bayer: str | None = None  # "RGGB", "BGGR", "GBRG" or "GRBG"


def _generic_encodings() -> dict[str, Encoding]:
    """The `8UC1` .. `64FC4` family: no colour semantics, OpenCV's BGR(A) order as cv_bridge assumes."""
    types = {"8U": "u1", "8S": "i1", "16U": "u2", "16S": "i2", "32S": "i4", "32F": "f4", "64F": "f8"}
    models = {1: "L", 2: None, 3: "BGR", 4: "BGRA"}
    return {
        f"{prefix}C{channels}": Encoding(Layout.INTERLEAVED, np.dtype(code), channels, model)
        for prefix, code in types.items()
        for channels, model in models.items()
    }


ENCODINGS: dict[str, Encoding] = {
    "rgb8": Encoding(Layout.INTERLEAVED, np.dtype("u1"), 3, "RGB"),
    "rgba8": Encoding(Layout.INTERLEAVED, np.dtype("u1"), 4, "RGBA"),
    "rgb16": Encoding(Layout.INTERLEAVED, np.dtype("u2"), 3, "RGB"),
    "rgba16": Encoding(Layout.INTERLEAVED, np.dtype("u2"), 4, "RGBA"),
    "bgr8": Encoding(Layout.INTERLEAVED, np.dtype("u1"), 3, "BGR"),
    "bgra8": Encoding(Layout.INTERLEAVED, np.dtype("u1"), 4, "BGRA"),
    "bgr16": Encoding(Layout.INTERLEAVED, np.dtype("u2"), 3, "BGR"),
    "bgra16": Encoding(Layout.INTERLEAVED, np.dtype("u2"), 4, "BGRA"),
    "mono8": Encoding(Layout.INTERLEAVED, np.dtype("u1"), 1, "L"),
    "mono16": Encoding(Layout.INTERLEAVED, np.dtype("u2"), 1, "L"),
    **_generic_encodings(),
    **{
        f"bayer_{pattern.lower()}{bits}": Encoding(
            Layout.BAYER8 if bits == 8 else Layout.BAYER16, np.dtype("u1" if bits == 8 else "u2"), bayer=pattern
        )
        for pattern in ("RGGB", "BGGR", "GBRG", "GRBG")
        for bits in (8, 16)
    },
    "yuv422": Encoding(Layout.UYVY, np.dtype("u1"), 2),
    "uyvy": Encoding(Layout.UYVY, np.dtype("u1"), 2),
    "yuv422_yuy2": Encoding(Layout.YUYV, np.dtype("u1"), 2),
    "yuyv": Encoding(Layout.YUYV, np.dtype("u1"), 2),
    "nv12": Encoding(Layout.NV12, np.dtype("u1")),
    "nv21": Encoding(Layout.NV21, np.dtype("u1")),
    "nv24": Encoding(Layout.NV24, np.dtype("u1")),
}

# Encodings shown as depth when the config does not say (REP 118: 16UC1 millimetres, 32FC1 metres).
DEFAULT_DEPTH_ENCODINGS = frozenset({"16UC1", "32FC1"})

_RERUN_BAYER = {
    "RGGB": rr.PixelFormat.BayerRGGB8,
    "BGGR": rr.PixelFormat.BayerBGGR8,
    "GBRG": rr.PixelFormat.BayerGBRG8,
    "GRBG": rr.PixelFormat.BayerGRBG8,
}


def lookup_encoding(name: str) -> Encoding:
    try:
        return ENCODINGS[name] if name in ENCODINGS else ENCODINGS[name.upper()]
    except KeyError:
        raise ConversionError(f"unknown encoding {name!r}") from None


def convert_image(
    msg: ImageMsg,
    as_depth: bool | None = None,
    depth: DepthOptions = DepthOptions(),
    *,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    depth_compression: DepthCompression | None = None,
) -> Any:
    """Convert one Image message.

    `as_depth` None shows 16UC1 and 32FC1 as depth and everything else as an
    image; True or False forces it (any single-channel encoding can be depth).
    A frame of more than `max_pixels` is rejected before anything is copied or demosaiced.
    `depth_compression` logs 16-bit depth losslessly as PNG or RVL (float depth stays raw: both hold integers).
    """
    encoding = lookup_encoding(msg.encoding)
    check_size(msg.width, msg.height, max_pixels, "image")
    if as_depth is None:
        as_depth = msg.encoding.upper() in DEFAULT_DEPTH_ENCODINGS
    if as_depth:
        if encoding.layout is not Layout.INTERLEAVED or encoding.channels != 1:
            raise ConversionError(f"encoding {msg.encoding!r} cannot be shown as depth (needs one channel)")
        return depth_archetype(_interleaved_pixels(msg, encoding), depth, depth_compression)
    return _color_image(msg, encoding)


def depth_archetype(pixels: np.ndarray, depth: DepthOptions = DepthOptions(),
                    depth_compression: DepthCompression | None = None) -> Any:  # fmt: skip
    """A DepthImage of (height, width) `pixels`, or with `depth_compression` and 16-bit pixels a lossless
    EncodedDepthImage (PNG or RVL) that the viewer decodes to the same values (meter as for raw 16-bit)."""
    if depth_compression is DepthCompression.AUTO and pixels.dtype == np.uint16:
        depth_compression = smaller_depth_codec(pixels)
    if depth_compression is DepthCompression.RVL and pixels.dtype == np.uint16:
        payload = np.frombuffer(ros_rvl_payload(pixels), np.uint8)
        return archetypes.encoded_depth_image(payload, RVL_MEDIA_TYPE, **depth.depth_image_args(False))
    if depth_compression is DepthCompression.PNG and pixels.dtype == np.uint16:
        from .opencv import encode_png  # cv2 is imported on first use

        return archetypes.encoded_depth_image(encode_png(pixels), "image/png", **depth.depth_image_args(False))
    return archetypes.depth_image(pixels, **depth.depth_image_args(pixels.dtype.kind == "f"))


def smaller_depth_codec(pixels: np.ndarray) -> DepthCompression:
    """PNG or RVL, whichever compresses a band of `pixels`' middle rows (an eighth) smaller.

    Neither wins on every depth: PNG (deflate) is up to 3x smaller on smooth depth, RVL 10-15% smaller on
    depth with per-pixel sensor noise (docs/video.md). The band costs about a quarter of one encoding.
    """
    from .opencv import encode_png

    height = pixels.shape[0]
    rows = max(height // 8, min(height, 16))
    band = pixels[(height - rows) // 2 : (height + rows) // 2]
    return DepthCompression.PNG if encode_png(band).size <= len(ros_rvl_payload(band)) else DepthCompression.RVL


@dataclass(frozen=True)
class RawFrame:
    """A colour or grey frame for a video encoder: `pixels` in FFmpeg's `pixel_format` (rgb24, nv12, ...)."""

    pixels: np.ndarray
    pixel_format: str

    @property
    def size(self) -> tuple[int, int]:
        """(width, height): NV12 holds its chroma in half as many rows again."""
        rows = self.pixels.shape[0]
        return self.pixels.shape[1], rows * 2 // 3 if self.pixel_format == "nv12" else rows


_FFMPEG_INTERLEAVED = {
    ("L", 1): "gray", ("RGB", 1): "rgb24", ("BGR", 1): "bgr24", ("RGBA", 1): "rgba", ("BGRA", 1): "bgra",
    ("L", 2): "gray16le", ("RGB", 2): "rgb48le", ("BGR", 2): "bgr48le", ("RGBA", 2): "rgba64le", ("BGRA", 2): "bgra64le",
}  # fmt: skip


def video_frame(msg: ImageMsg, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> RawFrame:
    """The frame of a colour or grey Image as FFmpeg takes it: a view of the message where FFmpeg has the layout.

    Unsigned integer pixels only: FFmpeg has no signed or float colour formats that an encoder takes.
    """
    encoding = lookup_encoding(msg.encoding)
    check_size(msg.width, msg.height, max_pixels, "image")
    width, height = msg.width, msg.height
    match encoding.layout:
        case Layout.INTERLEAVED:
            return interleaved_frame(_interleaved_pixels(msg, encoding), encoding.color_model, msg.encoding)
        case Layout.BAYER8:
            return RawFrame(_rows(msg, width, height), f"bayer_{encoding.bayer.lower()}8")
        case Layout.BAYER16:
            from .opencv import demosaic_to_rgb  # cv2 is imported on first use

            mosaic = _native(_rows(msg, 2 * width, height).view(_byte_order(msg, encoding.dtype)))
            return RawFrame(demosaic_to_rgb(mosaic, encoding.bayer), "rgb48le")
        case Layout.YUYV | Layout.UYVY:
            _require_even(msg, width=True)
            packed = _rows(msg, 2 * width, height)
            if encoding.layout is Layout.UYVY:  # swapping the bytes of each 16-bit pair makes it YUYV
                packed = packed.view("<u2").byteswap().view(np.uint8)
            return RawFrame(packed.reshape(height, width, 2), "yuyv422")
        case Layout.NV12 | Layout.NV21:
            return RawFrame(_nv12_planes(msg, encoding), "nv12")
    raise ConversionError(f"encoding {msg.encoding!r} cannot be encoded as video (unsigned colour or grey pixels only)")


def interleaved_frame(pixels: np.ndarray, color_model: str | None, encoding: str) -> RawFrame:
    """Interleaved (height, width[, channels]) pixels of `color_model` as a frame for a video encoder (a view
    where they are little-endian already); `encoding` names them in the error for signed or float pixels."""
    pixel_format = _FFMPEG_INTERLEAVED.get((color_model, pixels.dtype.itemsize)) if pixels.dtype.kind == "u" else None
    if pixel_format is None:
        raise ConversionError(f"encoding {encoding!r} cannot be encoded as video (unsigned colour or grey pixels only)")
    return RawFrame(pixels.astype(pixels.dtype.newbyteorder("<"), copy=False), pixel_format)


def interleaved_pixels(msg: ImageMsg, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> tuple[np.ndarray, str | None]:
    """An Image's pixels as (height, width[, channels]) with their colour model ("L", "RGB", "BGRA", ..., None for
    two channels), as a per-pixel operation (rectification) needs them: a view of the message for interleaved
    encodings; Bayer demosaiced and YUV converted to RGB, as the viewer would show them."""
    encoding = lookup_encoding(msg.encoding)
    check_size(msg.width, msg.height, max_pixels, "image")
    width, height = msg.width, msg.height
    match encoding.layout:
        case Layout.INTERLEAVED:
            return _interleaved_pixels(msg, encoding), encoding.color_model
        case Layout.BAYER8 | Layout.BAYER16:
            from .opencv import demosaic_to_rgb  # cv2 is imported on first use

            row_bytes = width * encoding.dtype.itemsize
            mosaic = _native(_rows(msg, row_bytes, height).view(_byte_order(msg, encoding.dtype)))
            return demosaic_to_rgb(mosaic, encoding.bayer), "RGB"
        case Layout.YUYV | Layout.UYVY:
            from .opencv import yuv_to_rgb

            _require_even(msg, width=True)
            return yuv_to_rgb(_rows(msg, 2 * width, height).reshape(height, width, 2), encoding.layout.name), "RGB"
        case Layout.NV12 | Layout.NV21:
            from .opencv import yuv_to_rgb

            _require_even(msg, width=True, height=True)
            return yuv_to_rgb(_rows(msg, width, height * 3 // 2), encoding.layout.name), "RGB"
    raise ConversionError(f"encoding {msg.encoding!r} has no per-pixel form here (NV24 is shown, not processed)")


def _nv12_planes(msg: ImageMsg, encoding: Encoding) -> np.ndarray:
    """The Y plane and the interleaved U V plane at half resolution (NV21's V U swapped into NV12's order)."""
    _require_even(msg, width=True, height=True)
    width, height = msg.width, msg.height
    planes = _rows(msg, width, height * 3 // 2)
    if encoding.layout is Layout.NV21:
        planes = planes.copy()
        uv = planes[height:].reshape(height // 2, width // 2, 2)
        uv[...] = uv[..., ::-1]
    return planes


def _color_image(msg: ImageMsg, encoding: Encoding) -> Any:
    width, height = msg.width, msg.height
    match encoding.layout:
        case Layout.INTERLEAVED:
            pixels = _interleaved_pixels(msg, encoding)
            if encoding.color_model is None:  # two channels: no colour model in Rerun
                return rr.Tensor(pixels, dim_names=["height", "width", "channel"])
            return archetypes.image(pixels, encoding.color_model)
        case Layout.BAYER8:
            mosaic = _rows(msg, width, height)
            return archetypes.pixel_format_image(mosaic, _RERUN_BAYER[encoding.bayer], width, height)
        case Layout.BAYER16:
            mosaic = _native(_rows(msg, 2 * width, height).view(_byte_order(msg, encoding.dtype)))
            from .opencv import demosaic_to_rgb  # cv2 is imported on first use

            return archetypes.image(demosaic_to_rgb(mosaic, encoding.bayer), "RGB")
        case Layout.YUYV:
            _require_even(msg, width=True)
            return archetypes.pixel_format_image(_rows(msg, 2 * width, height), rr.PixelFormat.YUY2, width, height)
        case Layout.UYVY:
            _require_even(msg, width=True)
            # Swapping the bytes of every 16-bit pair turns U Y0 V Y1 into Y0 U Y1 V.
            yuyv = _rows(msg, 2 * width, height).view("<u2").byteswap()
            return archetypes.pixel_format_image(yuyv, rr.PixelFormat.YUY2, width, height)
        case Layout.NV12 | Layout.NV21:
            return archetypes.pixel_format_image(_nv12_planes(msg, encoding), rr.PixelFormat.NV12, width, height)
        case Layout.NV24:
            planes = _rows(msg, width, height)  # Y rows of `step` bytes, then UV rows of twice that
            uv = _rows(msg, 2 * width, height, offset=msg.step * height, stride=2 * msg.step).reshape(height, width, 2)
            yuv = np.concatenate([planes.ravel(), uv[..., 0].ravel(), uv[..., 1].ravel()])
            return archetypes.pixel_format_image(yuv, rr.PixelFormat.Y_U_V24_LimitedRange, width, height)
    raise AssertionError(encoding.layout)


def _interleaved_pixels(msg: ImageMsg, encoding: Encoding) -> np.ndarray:
    """A (height, width[, channels]) array over the message's buffer, copied only for big-endian data."""
    row_bytes = msg.width * encoding.channels * encoding.dtype.itemsize
    rows = _rows(msg, row_bytes, msg.height)
    pixels = _native(rows.view(_byte_order(msg, encoding.dtype)))
    shape = (msg.height, msg.width) if encoding.channels == 1 else (msg.height, msg.width, encoding.channels)
    return pixels.reshape(shape)


def _rows(msg: ImageMsg, row_bytes: int, n_rows: int, offset: int = 0, stride: int | None = None) -> np.ndarray:
    """The first `row_bytes` of each of `n_rows` rows `stride` (default `step`) bytes apart, as a uint8 view.

    Validates the geometry the message claims against the data it carries.
    """
    stride = msg.step if stride is None else stride
    if stride < row_bytes:
        raise ConversionError(
            f"step {msg.step} is too small for width {msg.width} of {msg.encoding!r} (needs >= {row_bytes})"
        )
    data = np.frombuffer(msg.data, dtype=np.uint8)
    needed = offset + stride * (n_rows - 1) + row_bytes  # the last row need not carry its padding
    if data.size < needed:
        raise ConversionError(
            f"data is {data.size} bytes, {msg.width}x{msg.height} {msg.encoding!r} with step {msg.step} needs {needed}"
        )
    return np.lib.stride_tricks.as_strided(
        data[offset:], shape=(n_rows, row_bytes), strides=(stride, 1), writeable=False
    )


def _byte_order(msg: ImageMsg, dtype: np.dtype) -> np.dtype:
    return dtype.newbyteorder(">" if msg.is_bigendian else "<")


def _native(pixels: np.ndarray) -> np.ndarray:
    """Pixels in the machine's byte order; a no-op view unless the data is foreign-endian."""
    if pixels.dtype.isnative:
        return pixels
    return pixels.astype(pixels.dtype.newbyteorder("="))


def _require_even(msg: ImageMsg, width: bool = False, height: bool = False) -> None:
    if (width and msg.width % 2) or (height and msg.height % 2):
        raise ConversionError(f"{msg.encoding!r} needs an even size, got {msg.width}x{msg.height}")
