"""Back-projection and projection of depth pixels: the maths that depth registration and coloured clouds share.

Pure functions on NumPy arrays. Cameras are pinholes in ROS optical frames (REP 103: x right, y down, z forward);
a camera matrix is the 3x3 that its Pinhole uses, for the image as published. Depth is in the image's own units,
`meter` of them to a metre (Rerun's convention: 1000 for millimetres, 1 for metres); 0 and non-finite are invalid.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .errors import ConversionError


def default_meter(depth: np.ndarray) -> float:
    """Depth units per metre when the config says nothing: metres for float pixels, millimetres for integers."""
    return 1.0 if depth.dtype.kind == "f" else 1000.0


def back_project(depth: np.ndarray, matrix: np.ndarray, meter: float, max_points: int | None = None) -> np.ndarray:
    """The valid pixels of `depth` (height, width) as (N, 3) points in metres, in the camera's optical frame.

    With `max_points`, an evenly spread subset of at most that many: every k-th row and column, then an even
    trim, so that a subsampled cloud keeps the shape of the full one.
    """
    if depth.ndim != 2:
        raise ConversionError(f"depth has shape {depth.shape}, not (height, width)")
    valid = np.isfinite(depth) & (depth > 0) if depth.dtype.kind == "f" else depth > 0
    stride = 1
    if max_points is not None:
        stride = max(1, math.ceil(math.sqrt(np.count_nonzero(valid) / max(max_points, 1))))
    vs, us = np.nonzero(valid[::stride, ::stride])
    vs, us = vs * stride, us * stride
    if max_points is not None and vs.size > max_points:
        keep = np.linspace(0, vs.size - 1, max_points).astype(np.int64)
        vs, us = vs[keep], us[keep]
    z = depth[vs, us].astype(np.float64) / meter
    fx, fy, cx, cy = matrix[0, 0], matrix[1, 1], matrix[0, 2], matrix[1, 2]
    return np.stack([(us - cx) * z / fx, (vs - cy) * z / fy, z], axis=1)


@dataclass(frozen=True)
class Projection:
    """Where points land in another camera's image: the indices of those it sees, their pixels and depths."""

    seen: np.ndarray  # indices into the points: in front of the camera and inside its image
    u: np.ndarray  # int64 column of each seen point (nearest pixel)
    v: np.ndarray  # int64 row
    z: np.ndarray  # metres along the camera's optical axis


def project(points: np.ndarray, camera_from_points: np.ndarray, matrix: np.ndarray, size: tuple[int, int]) -> Projection:
    """`points` (N, 3) moved by `camera_from_points` (4x4) and projected through `matrix` onto an image of
    `size` (width, height), to the nearest pixel."""
    moved = points @ camera_from_points[:3, :3].T + camera_from_points[:3, 3]
    in_front = np.flatnonzero(moved[:, 2] > 0)
    moved = moved[in_front]
    projected = moved @ matrix.T
    u = np.rint(projected[:, 0] / projected[:, 2])
    v = np.rint(projected[:, 1] / projected[:, 2])
    width, height = size
    inside = (u >= 0) & (u < width) & (v >= 0) & (v < height)  # False for NaN and inf too
    return Projection(in_front[inside], u[inside].astype(np.int64), v[inside].astype(np.int64), moved[inside, 2])
