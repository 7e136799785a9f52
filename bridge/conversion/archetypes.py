"""Rerun image archetypes built over a frame's own buffer, without copying it.

`rr.Image(array)` copies a frame two to three times on its way into Arrow
(about 5 ms for a 1080p rgb8 frame here). Wrapping the (contiguous) buffer as
an Arrow array hands it to Rerun as it is (about 0.05 ms). Only a frame that
is not contiguous in memory (rows padded by `step`) is copied, once.

What repeats with every frame of a stream (its format, media type, depth
options) is converted to Arrow once and reused: rerun-sdk's converters would
spend about 40 us per frame on them.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
import pyarrow as pa
import rerun as rr
from rerun.components import ImageBufferBatch, ImageFormat, ImageFormatBatch

_BLOB_TYPE = ImageBufferBatch._ARROW_DATATYPE  # list<uint8 not null>, shared by image buffers and blobs


def blob(buffer: np.ndarray) -> pa.Array:
    """A one-element Arrow `list<uint8>` over `buffer`'s bytes (copied only if not contiguous)."""
    flat = np.ascontiguousarray(buffer).reshape(-1).view(np.uint8)
    # Built from buffers: `pa.array` would import pandas (0.5 s) on first use to check its argument.
    offsets = pa.py_buffer(np.array([0, flat.size], np.int32))
    return pa.ListArray.from_buffers(_BLOB_TYPE, 1, [None, offsets], children=[_values(flat)])


def _values(flat: np.ndarray) -> pa.Array:
    return pa.Array.from_buffers(pa.uint8(), flat.size, [None, pa.py_buffer(flat)])


def image(pixels: np.ndarray, color_model: str) -> rr.Image:
    """An image of (height, width[, channels]) `pixels` in `color_model` ("L", "RGB", "BGRA", ...)."""
    height, width = pixels.shape[:2]
    return rr.Image.from_fields(buffer=blob(pixels), format=_channel_format(width, height, pixels.dtype, color_model))


def pixel_format_image(buffer: np.ndarray, pixel_format: rr.PixelFormat, width: int, height: int) -> rr.Image:
    """An image in one of Rerun's native chroma or Bayer layouts (NV12, YUY2, BayerRGGB8, ...)."""
    return rr.Image.from_fields(buffer=blob(buffer), format=_pixel_format(width, height, pixel_format))


def depth_image(pixels: np.ndarray, **options: Any) -> rr.DepthImage:
    """A depth image of (height, width) `pixels`; `options` are DepthImage's (meter, colormap, ...)."""
    height, width = pixels.shape
    return rr.DepthImage.from_fields(buffer=blob(pixels), format=_channel_format(width, height, pixels.dtype, None),
                                     **_stream_fields(rr.DepthImage, **options))  # fmt: skip


def encoded_image(data: np.ndarray, media_type: str) -> rr.EncodedImage:
    return rr.EncodedImage.from_fields(blob=blob(data), **_stream_fields(rr.EncodedImage, media_type=media_type))


def encoded_depth_image(data: np.ndarray, media_type: str, **options: Any) -> rr.EncodedDepthImage:
    fields = _stream_fields(rr.EncodedDepthImage, media_type=media_type, **options)
    return rr.EncodedDepthImage.from_fields(blob=blob(data), **fields)


@functools.lru_cache(maxsize=256)
def _channel_format(width: int, height: int, dtype: np.dtype, color_model: str | None) -> pa.Array:
    channel_datatype = rr.ChannelDatatype.from_np_dtype(dtype)
    return _format_array(ImageFormat(width=width, height=height, color_model=color_model, channel_datatype=channel_datatype))


@functools.lru_cache(maxsize=256)
def _pixel_format(width: int, height: int, pixel_format: rr.PixelFormat) -> pa.Array:
    return _format_array(ImageFormat(width=width, height=height, pixel_format=pixel_format))


def _format_array(image_format: ImageFormat) -> pa.Array:
    return ImageFormatBatch(image_format).as_arrow_array()


@functools.lru_cache(maxsize=256)
def _stream_fields(archetype: type, **fields: Any) -> dict[str, pa.Array]:
    """`archetype`'s `fields` (a stream's options: hashable) as the Arrow arrays `from_fields` takes as they are."""
    converted = archetype.from_fields(**fields)
    return {name: getattr(converted, name).as_arrow_array() for name in fields}
