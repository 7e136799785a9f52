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
    """The valid pixels of `depth` (height, width) as (N, 3) float32 points in metres, in the camera's optical frame.

    With `max_points`, an evenly spread subset of at most that many: every k-th row and column, then an even
    trim, so that a subsampled cloud keeps the shape of the full one.
    """
    if depth.ndim != 2:
        raise ConversionError(f"depth has shape {depth.shape}, not (height, width)")
    valid = np.isfinite(depth) & (depth > 0) if depth.dtype.kind == "f" else depth > 0
    stride = 1
    if max_points is not None:
        stride = max(1, math.ceil(math.sqrt(np.count_nonzero(valid) / max(max_points, 1))))
        depth, valid = depth[::stride, ::stride], valid[::stride, ::stride]
    vs, us = np.nonzero(valid)
    z = depth[valid].astype(np.float32) / np.float32(meter)  # float32: a hundredth of a pixel at 10,000 px
    if max_points is not None and z.size > max_points:
        keep = np.linspace(0, z.size - 1, max_points).astype(np.int64)
        vs, us, z = vs[keep], us[keep], z[keep]
    fx, fy, cx, cy = (np.float32(value) for value in (matrix[0, 0], matrix[1, 1], matrix[0, 2], matrix[1, 2]))
    x = (us.astype(np.float32) * stride - cx) * (z / fx)
    y = (vs.astype(np.float32) * stride - cy) * (z / fy)
    return np.stack([x, y, z], axis=1)


@dataclass(frozen=True)
class Projection:
    """Where points land in another camera's image: the indices of those it sees, their pixels and depths."""

    seen: np.ndarray  # indices into the points: in front of the camera and inside its image
    u: np.ndarray  # int64 column of each seen point (nearest pixel)
    v: np.ndarray  # int64 row
    z: np.ndarray  # metres along the camera's optical axis


def project(points: np.ndarray, camera_from_points: np.ndarray, matrix: np.ndarray, size: tuple[int, int]) -> Projection:
    """`points` (N, 3) moved by `camera_from_points` (4x4) and projected through `matrix` onto an image of
    `size` (width, height), to the nearest pixel.

    Column by column rather than `points @ matrix.T`: a (N, 3) x (3, 3) product goes to BLAS, whose threads
    made it 10-50 times slower on a busy machine.
    """
    x, y, z = points[:, 0], points[:, 1], points[:, 2]
    r, t = camera_from_points[:3, :3].astype(points.dtype), camera_from_points[:3, 3].astype(points.dtype)
    matrix = matrix.astype(points.dtype)
    moved = [r[i, 0] * x + r[i, 1] * y + r[i, 2] * z + t[i] for i in range(3)]
    u, v, w = (matrix[i, 0] * moved[0] + matrix[i, 1] * moved[1] + matrix[i, 2] * moved[2] for i in range(3))
    with np.errstate(divide="ignore", invalid="ignore"):
        u, v = np.rint(u / w), np.rint(v / w)
    width, height = size
    seen = np.flatnonzero((moved[2] > 0) & (u >= 0) & (u < width) & (v >= 0) & (v < height))  # False for NaN too
    return Projection(seen, u[seen].astype(np.int64), v[seen].astype(np.int64), moved[2][seen])
