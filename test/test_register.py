"""Depth registration (`bridge.conversion.register`): a synthetic scene with a known baseline.

A box 1 m away (0.4 x 0.3 m) in front of a wall 3 m away, seen by a depth camera and by a colour camera 5 cm
to its right. The box's edges in the colour image are known analytically; registered depth must put its
edges there (within 1 px), keep the box where wall points behind it also land (z-buffer), and leave the
wall the colour camera sees but the depth camera does not (disocclusion) invalid.
"""

from __future__ import annotations

import numpy as np
import pytest

from bridge.conversion.register import register_depth

DEPTH_K = np.array([[250.0, 0, 160.0], [0, 250.0, 120.0], [0, 0, 1]])
COLOUR_K = np.array([[240.0, 0, 158.0], [0, 240.0, 122.0], [0, 0, 1]])
COLOUR_FROM_DEPTH = np.eye(4)
COLOUR_FROM_DEPTH[0, 3] = -0.05  # the colour camera sits 5 cm along +x of the depth camera
BOX = (-0.2, 0.2, -0.15, 0.15)  # x, y extents at z = 1 m, depth frame


def scene(dtype) -> np.ndarray:
    vs, us = np.mgrid[0:240, 0:320]
    x, y = (us - DEPTH_K[0, 2]) / DEPTH_K[0, 0], (vs - DEPTH_K[1, 2]) / DEPTH_K[1, 1]  # at z = 1
    on_box = (x >= BOX[0]) & (x <= BOX[1]) & (y >= BOX[2]) & (y <= BOX[3])
    metres = np.where(on_box, 1.0, 3.0)
    return (metres * 1000).astype(np.uint16) if dtype == np.uint16 else metres.astype(np.float32)


@pytest.mark.parametrize("dtype", [np.uint16, np.float32])
def test_edges_land_on_colour_edges_and_nearest_surface_wins(dtype) -> None:
    registered = register_depth(scene(dtype), DEPTH_K, COLOUR_K, (320, 240), COLOUR_FROM_DEPTH)
    assert registered.shape == (240, 320) and registered.dtype == dtype
    near, far = (1000, 3000) if dtype == np.uint16 else (1.0, 3.0)
    row = registered[122]  # the colour camera's principal row
    left = COLOUR_K[0, 0] * (BOX[0] - 0.05) + COLOUR_K[0, 2]  # 98: the box's edges in the colour image
    right = COLOUR_K[0, 0] * (BOX[1] - 0.05) + COLOUR_K[0, 2]  # 194
    box = np.flatnonzero(np.isclose(row, near))
    assert abs(box[0] - left) <= 1 and abs(box[-1] - right) <= 1, (box[0], box[-1], left, right)
    assert np.isclose(row[box[0] : box[-1] + 1], near).all()  # no hole, no wall in the box
    # wall points the depth camera sees left of the box land inside it in the colour image: the box wins
    wall_in_box = COLOUR_K[0, 0] * (3 * BOX[0] - 0.05) / 3 + COLOUR_K[0, 2]  # 106
    assert wall_in_box > left + 4 and np.isclose(row[int(left) + 2 : int(wall_in_box)], near).all()
    # right of the box the colour camera sees wall the depth camera cannot: invalid
    wall_seen = COLOUR_K[0, 0] * (3 * BOX[1] - 0.05) / 3 + COLOUR_K[0, 2]  # 202
    gap = row[int(right) + 2 : int(wall_seen) - 1]
    assert gap.size >= 4
    assert (gap == 0).all() if dtype == np.uint16 else np.isnan(gap).all()
    assert np.isclose(row[20:80], far).all()


def test_invalid_depth_stays_invalid() -> None:
    depth = scene(np.uint16)
    depth[:, :] = 0
    assert (register_depth(depth, DEPTH_K, COLOUR_K, (640, 480), COLOUR_FROM_DEPTH) == 0).all()
    depth = scene(np.float32)
    depth[:] = np.nan
    assert np.isnan(register_depth(depth, DEPTH_K, COLOUR_K, (640, 480), COLOUR_FROM_DEPTH)).all()
