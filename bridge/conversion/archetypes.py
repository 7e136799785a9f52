"""Rerun image archetypes built over a frame's own buffer, without copying it.

`rr.Image(array)` copies a frame two to three times on its way into Arrow
(about 5 ms for a 1080p rgb8 frame here). Wrapping the (contiguous) buffer as
an Arrow array hands it to Rerun as it is (about 0.05 ms). Only a frame that
is not contiguous in memory (rows padded by `step`) is copied, once.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import rerun as rr
from rerun.components import ImageBufferBatch, ImageFormat

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
    return rr.Image.from_fields(buffer=blob(pixels), format=_format(pixels, color_model=color_model))


def pixel_format_image(buffer: np.ndarray, pixel_format: rr.PixelFormat, width: int, height: int) -> rr.Image:
    """An image in one of Rerun's native chroma or Bayer layouts (NV12, YUY2, BayerRGGB8, ...)."""
    return rr.Image.from_fields(
        buffer=blob(buffer), format=ImageFormat(width=width, height=height, pixel_format=pixel_format)
    )


def depth_image(pixels: np.ndarray, **options: object) -> rr.DepthImage:
    """A depth image of (height, width) `pixels`; `options` are DepthImage's (meter, colormap, ...)."""
    return rr.DepthImage.from_fields(buffer=blob(pixels), format=_format(pixels), **options)


def encoded_image(data: np.ndarray, media_type: str) -> rr.EncodedImage:
    return rr.EncodedImage.from_fields(blob=blob(data), media_type=media_type)


def encoded_depth_image(data: np.ndarray, media_type: str, **options: object) -> rr.EncodedDepthImage:
    return rr.EncodedDepthImage.from_fields(blob=blob(data), media_type=media_type, **options)


def _format(pixels: np.ndarray, color_model: str | None = None) -> ImageFormat:
    return ImageFormat(
        width=pixels.shape[1],
        height=pixels.shape[0],
        color_model=color_model,
        channel_datatype=rr.ChannelDatatype.from_np_dtype(pixels.dtype),
    )
