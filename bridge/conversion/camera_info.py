"""`sensor_msgs/CameraInfo` to `rr.Pinhole`, with image_geometry's semantics (REP 104).

K maps the raw (distorted) image; the left 3x3 of P maps the rectified image.
CameraInfo describes the full-resolution sensor: when the driver publishes a
region of interest and/or a binned image, the intrinsics of the published
image are shifted by the ROI offset and then scaled by 1/binning, exactly as
`image_geometry.PinholeCameraModel` does, and the resolution is that of the
published image.
"""

from __future__ import annotations

import functools
from typing import Any, Protocol, Sequence

import numpy as np
import rerun as rr

from .errors import ConversionError
from .options import Intrinsics

IMAGE_PLANE_SUFFIX = "_image_plane"


class RoiMsg(Protocol):
    x_offset: int
    y_offset: int
    height: int
    width: int


class CameraInfoMsg(Protocol):
    """The fields of `sensor_msgs/msg/CameraInfo` that conversion reads."""

    height: int
    width: int
    k: Sequence[float]
    p: Sequence[float]
    binning_x: int
    binning_y: int
    roi: RoiMsg


def image_plane_frame(frame_id: str) -> str:
    """The frame that the Pinhole of camera `frame_id` projects into; its images live there."""
    return frame_id + IMAGE_PLANE_SUFFIX


def published_intrinsics(msg: CameraInfoMsg, intrinsics: Intrinsics = Intrinsics.K) -> tuple[np.ndarray, tuple[int, int]]:
    """The 3x3 camera matrix and (width, height) of the image as published."""
    if intrinsics is Intrinsics.K:
        matrix = np.asarray(msg.k, dtype=np.float64).reshape(3, 3).copy()
    else:
        matrix = np.asarray(msg.p, dtype=np.float64).reshape(3, 4)[:, :3].copy()
    if not np.all(np.isfinite(matrix)):
        raise ConversionError(f"{intrinsics.value} has non-finite values")
    if matrix[0, 0] <= 0 or matrix[1, 1] <= 0:
        raise ConversionError(f"{intrinsics.value} has no focal length (uncalibrated camera?)")

    roi = msg.roi
    full_roi = roi.width == 0 and roi.height == 0 and roi.x_offset == 0 and roi.y_offset == 0
    width, height = (msg.width, msg.height) if full_roi else (roi.width, roi.height)
    matrix[0, 2] -= roi.x_offset
    matrix[1, 2] -= roi.y_offset

    binning_x, binning_y = max(msg.binning_x, 1), max(msg.binning_y, 1)
    matrix[0, :] /= binning_x
    matrix[1, :] /= binning_y
    width, height = width // binning_x, height // binning_y
    if width <= 0 or height <= 0:
        raise ConversionError(f"image size {width}x{height} after ROI and binning is empty")
    return matrix, (width, height)


def pinhole_from_camera_info(msg: CameraInfoMsg, frame_id: str | None, intrinsics: Intrinsics = Intrinsics.K) -> Any:
    """A Pinhole from the camera's frame to its image plane; ROS optical frames are RDF."""
    matrix, resolution = published_intrinsics(msg, intrinsics)
    return _pinhole(tuple(matrix.flat), resolution, frame_id)


@functools.lru_cache(maxsize=64)
def _pinhole(image_from_camera: tuple[float, ...], resolution: tuple[int, int], frame_id: str | None) -> Any:
    """Built once per calibration and frame: a camera publishes the same CameraInfo with every frame."""
    frames = {"parent_frame": frame_id, "child_frame": image_plane_frame(frame_id)} if frame_id else {}
    matrix = np.array(image_from_camera).reshape(3, 3)
    return rr.Pinhole(image_from_camera=matrix, resolution=resolution, camera_xyz=rr.ViewCoordinates.RDF, **frames)
