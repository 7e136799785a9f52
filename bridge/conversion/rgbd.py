"""RGB-D frames as arrays, and the true-colour cloud of a depth frame: pure functions.

`coloured_cloud` is what RViz's DepthCloud display draws with a colour image: the depth camera's points, in its
own optical frame, each with the colour of the pixel it projects onto in the colour camera (through the same
`depth_geometry` maths as registration). Points the colour camera does not see (outside its image, behind it)
are left out, as they are from depth_image_proc's `point_cloud_xyzrgb` of registered depth. Occlusion is not
tested: a point hidden from the colour camera by a nearer surface takes that surface's colour.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .depth_geometry import back_project, project
from .errors import ConversionError
from .image import Layout, _interleaved_pixels, lookup_encoding
from .options import DEFAULT_MAX_PIXELS, check_size

_TO_RGB = {"RGB": np.s_[..., :3], "RGBA": np.s_[..., :3], "BGR": np.s_[..., 2::-1], "BGRA": np.s_[..., 2::-1]}


def depth_pixels(msg: Any, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """An Image's (height, width) depth values, a view of its buffer: one-channel interleaved encodings only."""
    encoding = lookup_encoding(msg.encoding)
    check_size(msg.width, msg.height, max_pixels, "image")
    if encoding.layout is not Layout.INTERLEAVED or encoding.channels != 1:
        raise ConversionError(f"encoding {msg.encoding!r} is not depth (needs one channel)")
    return _interleaved_pixels(msg, encoding)


def rgb_pixels(msg: Any, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """An Image's (height, width, 3) uint8 RGB pixels: RGB, BGR (with or without alpha) and mono encodings."""
    encoding = lookup_encoding(msg.encoding)
    check_size(msg.width, msg.height, max_pixels, "image")
    model = encoding.color_model
    if encoding.layout is not Layout.INTERLEAVED or encoding.dtype.kind != "u" or model not in (*_TO_RGB, "L"):
        raise ConversionError(f"encoding {msg.encoding!r} cannot colour a cloud (unsigned RGB, BGR or mono pixels only)")
    pixels = _interleaved_pixels(msg, encoding)
    if encoding.dtype.itemsize == 2:
        pixels = (pixels >> 8).astype(np.uint8)
    if model == "L":
        return np.repeat(pixels[..., None], 3, axis=2)
    return pixels[_TO_RGB[model]]


def coloured_cloud(depth: np.ndarray, depth_matrix: np.ndarray, meter: float, colours: np.ndarray,
                   colour_matrix: np.ndarray, colour_from_depth: np.ndarray,
                   max_points: int | None = None) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """(points (N, 3) float32 in metres in the depth camera's frame, their colours (N, 3) uint8 from `colours`)."""
    points = back_project(depth, depth_matrix, meter, max_points)
    height, width = colours.shape[:2]
    seen = project(points, colour_from_depth, colour_matrix, (width, height))
    return points[seen.seen].astype(np.float32), colours[seen.v, seen.u]
