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
FLOAT32_MAX = float(np.finfo(np.float32).max)  # Rerun's Pinhole holds float32


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
    matrix = _camera_matrix(msg, intrinsics)
    roi = msg.roi
    full_roi = roi.width == 0 and roi.height == 0 and roi.x_offset == 0 and roi.y_offset == 0
    width, height = (msg.width, msg.height) if full_roi else (roi.width, roi.height)
    matrix[0, 2] -= roi.x_offset
    matrix[1, 2] -= roi.y_offset

    binning_x, binning_y = max(msg.binning_x, 1), max(msg.binning_y, 1)
    matrix[0, :] /= binning_x
    matrix[1, :] /= binning_y
    if width // binning_x <= 0 or height // binning_y <= 0:
        size = "width x height" if full_roi else "roi width x height"
        raise ConversionError(f"published image is empty: {size} {width}x{height}, binning {binning_x}x{binning_y}")
    return matrix, (width // binning_x, height // binning_y)


def _camera_matrix(msg: CameraInfoMsg, intrinsics: Intrinsics) -> np.ndarray:
    """A copy of K, or of P's left 3x3, once the field is checked to fit Rerun's float32 Pinhole."""
    name, columns = intrinsics.value, (3 if intrinsics is Intrinsics.K else 4)
    values = np.asarray(msg.k if intrinsics is Intrinsics.K else msg.p, dtype=np.float64).ravel()
    if values.size != 3 * columns:
        raise ConversionError(f"{name} has {values.size} values, not {3 * columns}")
    unrepresentable = np.flatnonzero(~(np.abs(values) <= FLOAT32_MAX))  # NaN, inf, and 1e308 (inf as float32)
    if unrepresentable.size:
        index = unrepresentable[0]
        raise ConversionError(f"{name}[{index}] is {values[index]}: not a finite float32")
    fx, fy = values[0], values[columns + 1]
    if not (np.float32(fx) > 0 and np.float32(fy) > 0):  # zero when uncalibrated; 1e-300 is zero as float32
        raise ConversionError(f"{name} has no positive focal length: fx {fx}, fy {fy} (uncalibrated camera?)")
    return values.reshape(3, columns)[:, :3].copy()


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
