"""Depth registration: a depth image reprojected into another (colour) camera, as depth_image_proc's
`register` node and RealSense's `aligned_depth_to_color` do. A pure function; not yet wired into the bridge.

Each valid depth pixel is back-projected through the depth camera's matrix (REP 104: the depth image is
rectified, so the matrix is P's left 3x3), moved into the colour camera's optical frame by
`colour_from_depth` (4x4, metres), and projected through the colour camera's matrix to the nearest pixel.
Where several land on one pixel, the nearest surface wins (z-buffer); pixels nothing lands on stay invalid
(0, or NaN for float depth). Values keep the source's units: millimetres for integer depth, metres for float.
"""

from __future__ import annotations

import numpy as np

from .errors import ConversionError


def register_depth(depth: np.ndarray, depth_matrix: np.ndarray, colour_matrix: np.ndarray,
                   colour_size: tuple[int, int], colour_from_depth: np.ndarray,
                   meter: float | None = None) -> np.ndarray:  # fmt: skip
    """`depth` (height, width) as seen from the colour camera, at `colour_size` (width, height).

    `meter`: depth units per metre (None: 1000 for integer pixels, 1 for float), as Rerun's DepthImage.
    """
    if depth.ndim != 2:
        raise ConversionError(f"depth has shape {depth.shape}, not (height, width)")
    if meter is None:
        meter = 1.0 if depth.dtype.kind == "f" else 1000.0
    height, width = depth.shape
    values = depth.astype(np.float64) / meter
    valid = np.isfinite(values) & (values > 0)
    vs, us = np.nonzero(valid)
    z = values[vs, us]
    fx, fy, cx, cy = depth_matrix[0, 0], depth_matrix[1, 1], depth_matrix[0, 2], depth_matrix[1, 2]
    points = np.stack([(us - cx) * z / fx, (vs - cy) * z / fy, z], axis=1)
    moved = points @ colour_from_depth[:3, :3].T + colour_from_depth[:3, 3]
    in_front = moved[:, 2] > 0
    moved = moved[in_front]
    projected = moved @ colour_matrix.T
    with np.errstate(divide="ignore", invalid="ignore"):
        u = np.rint(projected[:, 0] / projected[:, 2])
        v = np.rint(projected[:, 1] / projected[:, 2])
    out_width, out_height = colour_size
    inside = (u >= 0) & (u < out_width) & (v >= 0) & (v < out_height)
    index = (v[inside] * out_width + u[inside]).astype(np.int64)
    zc = moved[inside, 2]
    order = np.argsort(zc, kind="stable")  # nearest first: np.unique keeps each pixel's first, the nearest surface
    pixels, first = np.unique(index[order], return_index=True)
    nearest = zc[order][first]

    if depth.dtype.kind == "f":
        registered = np.full(out_height * out_width, np.nan, depth.dtype)
        registered[pixels] = nearest * meter
    else:
        registered = np.zeros(out_height * out_width, depth.dtype)
        limit = np.iinfo(depth.dtype).max
        registered[pixels] = np.clip(np.rint(nearest * meter), 0, limit)
    return registered.reshape(out_height, out_width)
