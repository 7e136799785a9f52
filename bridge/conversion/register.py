"""Depth registration: a depth image reprojected into another (colour) camera, as depth_image_proc's
`register` node and RealSense's `aligned_depth_to_color` do. A pure function.

Each valid depth pixel is back-projected through the depth camera's matrix, moved into the colour camera's
optical frame by `colour_from_depth` (4x4, metres), and projected through the colour camera's matrix to the
nearest pixel (`depth_geometry`). Where several land on one pixel, the nearest surface wins (z-buffer); pixels
nothing lands on stay invalid (0, or NaN for float depth). Values keep the source's units: millimetres for
integer depth, metres for float. Lens distortion is not modelled: both images are taken as rectified (REP 104),
as depth_image_proc takes them.
"""

from __future__ import annotations

import numpy as np

from .depth_geometry import back_project, default_meter, project


def register_depth(depth: np.ndarray, depth_matrix: np.ndarray, colour_matrix: np.ndarray,
                   colour_size: tuple[int, int], colour_from_depth: np.ndarray,
                   meter: float | None = None) -> np.ndarray:  # fmt: skip
    """`depth` (height, width) as seen from the colour camera, at `colour_size` (width, height).

    `meter`: depth units per metre (None: 1000 for integer pixels, 1 for float), as Rerun's DepthImage.
    """
    meter = default_meter(depth) if meter is None else meter
    seen = project(back_project(depth, depth_matrix, meter), colour_from_depth, colour_matrix, colour_size)
    out_width, out_height = colour_size
    nearest = np.full(out_height * out_width, np.inf, seen.z.dtype)
    np.minimum.at(nearest, seen.v * out_width + seen.u, seen.z)  # the z-buffer: each pixel's nearest surface
    hit = np.isfinite(nearest)

    if depth.dtype.kind == "f":
        registered = np.where(hit, nearest * meter, np.nan).astype(depth.dtype)
    else:
        limit = np.iinfo(depth.dtype).max
        registered = np.where(hit, np.clip(np.rint(nearest * meter), 0, limit), 0).astype(depth.dtype)
    return registered.reshape(out_height, out_width)
