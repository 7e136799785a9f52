"""Synthetic camera frames and the ROS 2 messages that carry them, built with `rosbags`' types.

Rendering a 1080p frame costs far more than writing it, so the generators
render a few frames once and reuse them, stamping each message's sequence
number into its first pixels so that no two consecutive frames are identical.
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np
from rosbags.typesys import Stores, get_typestore

from bridge.conversion.rvl import CONFIG_HEADER, ros_rvl_payload

TYPESTORE = get_typestore(Stores.ROS2_HUMBLE)
T = TYPESTORE.types

IMAGE_TYPE = "sensor_msgs/msg/Image"
COMPRESSED_TYPE = "sensor_msgs/msg/CompressedImage"
CAMERA_INFO_TYPE = "sensor_msgs/msg/CameraInfo"

FRAME_ID_COLOUR = "camera_color_optical_frame"
FRAME_ID_DEPTH = "camera_depth_optical_frame"

_SEQUENCE_PIXELS = 32  # the sequence number's bits, one pixel each, along the first row


def render_colour(width: int, height: int, phase: int) -> np.ndarray:
    """An rgb8 frame (height, width, 3): gradients, a disc that moves with `phase`, sensor noise."""
    y, x = np.mgrid[0:height, 0:width]
    frame = np.empty((height, width, 3), np.uint8)
    frame[..., 0] = (x * 255 // max(width - 1, 1)).astype(np.uint8)
    frame[..., 1] = (y * 255 // max(height - 1, 1)).astype(np.uint8)
    frame[..., 2] = ((x + y + 8 * phase) % 256).astype(np.uint8)
    centre_x, centre_y, radius = (width // 4 + 16 * phase) % width, height // 2, height // 6
    frame[(x - centre_x) ** 2 + (y - centre_y) ** 2 < radius**2] = (255, 255, 255)
    noise = np.random.default_rng(phase).integers(0, 8, frame.shape, np.uint8)  # so that JPEG sizes are realistic
    return frame | noise


def render_depth(width: int, height: int, phase: int) -> np.ndarray:
    """A 16UC1 depth frame in millimetres: a tilted floor, a box nearer the camera, noise, a band of 0 (no depth)."""
    y, x = np.mgrid[0:height, 0:width]
    depth = 1500 + 3 * y + (x // 8) + 10 * phase
    depth[height // 3 : 2 * height // 3, width // 3 : width // 2] = 800 + 5 * phase
    depth += np.random.default_rng(phase).integers(0, 16, depth.shape)  # sensor noise, so that it compresses as real depth
    depth[:, : width // 20] = 0  # the left band a stereo camera cannot match
    return depth.astype(np.uint16)


def render_noise(shape: tuple[int, ...], dtype: type, phase: int) -> np.ndarray:
    """Uniform random pixels over `dtype`'s whole range: the content that compresses least."""
    return np.random.default_rng(1000 + phase).integers(0, np.iinfo(dtype).max, shape, dtype, endpoint=True)


def stamp_sequence(pixels: np.ndarray, sequence: int) -> None:
    """Write `sequence`'s 32 bits into the first pixels of the first row (in place)."""
    bits = (sequence >> np.arange(_SEQUENCE_PIXELS)) & 1
    pixels[0, :_SEQUENCE_PIXELS] = (bits * np.iinfo(pixels.dtype).max)[(...,) + (None,) * (pixels.ndim - 2)]


def header(stamp_ns: int, frame_id: str) -> Any:
    stamp = T["builtin_interfaces/msg/Time"](sec=stamp_ns // 1_000_000_000, nanosec=stamp_ns % 1_000_000_000)
    return T["std_msgs/msg/Header"](stamp=stamp, frame_id=frame_id)


def image_msg(pixels: np.ndarray, encoding: str, stamp_ns: int, frame_id: str) -> Any:
    """An Image viewing `pixels` (C-contiguous, little-endian, rows unpadded)."""
    height, width = pixels.shape[:2]
    return T[IMAGE_TYPE](
        header=header(stamp_ns, frame_id), height=height, width=width, encoding=encoding,
        is_bigendian=0, step=pixels.strides[0], data=pixels.reshape(-1).view(np.uint8),
    )  # fmt: skip


def compressed_msg(payload: bytes, fmt: str, stamp_ns: int, frame_id: str) -> Any:
    return T[COMPRESSED_TYPE](header=header(stamp_ns, frame_id), format=fmt, data=np.frombuffer(payload, np.uint8))


def camera_info_msg(width: int, height: int, stamp_ns: int, frame_id: str) -> Any:
    """A plausible pinhole calibration: 60 degree horizontal field of view, centred principal point."""
    focal = width / (2 * np.tan(np.radians(30)))
    k = np.array([focal, 0, width / 2, 0, focal, height / 2, 0, 0, 1], np.float64)
    p = np.concatenate([k.reshape(3, 3), np.zeros((3, 1))], axis=1).ravel()
    return T[CAMERA_INFO_TYPE](
        header=header(stamp_ns, frame_id), height=height, width=width, distortion_model="plumb_bob",
        d=np.zeros(5), k=k, r=np.eye(3).ravel(), p=p, binning_x=0, binning_y=0,
        roi=T["sensor_msgs/msg/RegionOfInterest"](x_offset=0, y_offset=0, height=0, width=0, do_rectify=False),
    )  # fmt: skip


def encode_jpeg(rgb: np.ndarray, quality: int = 90) -> bytes:
    ok, encoded = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok, "OpenCV could not encode a JPEG"
    return encoded.tobytes()


def compressed_depth_payload(depth: np.ndarray, codec: str) -> bytes:
    """What compressed_depth_image_transport publishes for 16UC1: ConfigHeader, then PNG or (size + RVL)."""
    if codec == "png":
        ok, encoded = cv2.imencode(".png", depth)
        assert ok, "OpenCV could not encode a PNG"
        return CONFIG_HEADER.pack(0, 0.0, 0.0) + encoded.tobytes()
    return ros_rvl_payload(depth)


def serialize(msg: Any) -> memoryview:
    """CDR with its encapsulation header, as on the wire and in bags."""
    return TYPESTORE.serialize_cdr(msg, msg.__msgtype__)
