"""`RgbdStage`: one depth topic's registration into a colour camera and its true-colour cloud.

What one depth frame cannot say on its own lives here: the colour camera's frame (learnt from its images),
the recent colour frames a depth frame pairs with by stamp, the depth frames still waiting for their colour
frame, the stamp of the last cloud (for `max_rate`), and what became of every frame (counted, and each kind of
problem said once). The geometry comes from outside, at the depth frame's stamp: each camera's matrix and size
from its CameraInfo (`CameraLookup`, the Bridge's calibrations) and the transform between the two optical
frames from the `TfBuffer`. The maths is pure (`conversion.register`, `conversion.rgbd`).

Pairing (like message_filters' ApproximateTime, simplified): a depth frame pairs with the held colour frame of
the nearest stamp within `stamp_tolerance`. It is decided once a colour frame at or after its stamp has come
(no later one can be nearer), or when more than `PENDING` depth frames wait, or at the end; a depth frame with
no colour frame near enough is counted as unmatched.
"""

from __future__ import annotations

import threading
from collections import Counter, deque
from dataclasses import dataclass
from typing import Any, Callable, Mapping, NamedTuple

import numpy as np
import rerun as rr

from ..conversion.camera_info import image_plane_frame
from ..conversion.depth_geometry import default_meter
from ..conversion.errors import ConversionError
from ..conversion.image import depth_archetype
from ..conversion.options import DEFAULT_MAX_PIXELS, DepthCompression, DepthOptions, PointCloudOptions, RegisterOptions
from ..conversion.register import register_depth
from ..conversion.rgbd import coloured_cloud, depth_pixels, rgb_pixels
from .tf_buffer import TfBuffer, TfError

Times = Mapping[str, int]
PENDING = 3  # depth frames waiting for their colour frame
COLOUR_FRAMES = 6  # colour frames held for pairing
WAITING_WARNING = 10  # frames that may come before the first CameraInfo or colour frame before it is warned about


@dataclass(frozen=True)
class Camera:
    """A camera as its Pinhole has it: its optical frame, 3x3 matrix and image size (width, height)."""

    frame: str
    matrix: np.ndarray
    size: tuple[int, int]


# (image topic, its frame_id) -> its camera; None before its CameraInfo; ConversionError for an unusable one.
CameraLookup = Callable[[str, str], Camera | None]


class Output(NamedTuple):
    """One row to log."""

    entity: str
    archetypes: tuple[Any, ...]
    times: Times


class Products(NamedTuple):
    """Where a depth frame's products are logged (the depth topic's route says)."""

    registered: str | None
    cloud: str | None


_NO_PRODUCTS = Products(None, None)  # colour frames'


@dataclass(frozen=True)
class _Frame:
    stamp: int
    frame_id: str
    msg: Any
    times: Times
    products: Products


class _NotNow(Exception):
    """A frame that gets no registration or cloud: `label` counts it, `detail` is said once."""

    def __init__(self, label: str, detail: str, waiting: bool = False):
        super().__init__(detail)
        self.label, self.detail, self.waiting = label, detail, waiting


class RgbdStage:
    """Registration (`register`) and/or a coloured cloud (`point_cloud`) of one depth topic."""

    def __init__(self, topic: str, register: RegisterOptions | None, cloud: PointCloudOptions | None,
                 depth: DepthOptions, tf: TfBuffer, camera: CameraLookup, warn: Callable[[str], None],
                 max_pixels: int | None = None, depth_compression: DepthCompression | None = None):  # fmt: skip
        self.topic = topic
        self.register, self.cloud = register, cloud
        self._depth_options, self._depth_compression = depth, depth_compression
        self._tf, self._camera, self._warn = tf, camera, warn
        self._max_pixels = max_pixels or DEFAULT_MAX_PIXELS
        self._colour_frames: dict[str, str] = {}  # colour topic -> frame_id of its latest image
        self._colours: deque[_Frame] = deque(maxlen=COLOUR_FRAMES)
        self._pending: deque[_Frame] = deque()
        self._last_cloud: int | None = None
        self.counts: dict[str, Counter[str]] = {"registered": Counter(), "cloud": Counter()}
        self._lock = threading.Lock()

    @property
    def colour_topics(self) -> set[str]:
        """The Image topics whose frames this stage takes (`register.to`, `point_cloud.color_from`)."""
        return {topic for topic in (self.register and self.register.to, self.cloud and self.cloud.color_from) if topic}

    def depth(self, msg: Any, products: Products, frame_id: str, stamp: int, times: Times) -> list[Output]:
        """The registered depth and the clouds that this depth frame (an Image) gives now, logged at `products`."""
        frame = _Frame(stamp, frame_id, msg, times, products)
        outputs = []
        with self._lock:
            if self.register is not None:
                outputs += self._attempt("registered", self._registered, frame)
            if self.cloud is not None:
                if self._rate_limited(stamp):
                    self.counts["cloud"]["rate-limited"] += 1
                else:
                    self._pending.append(frame)
                    outputs += self._pair(final=False)
        return outputs

    def colour(self, topic: str, msg: Any, frame_id: str, stamp: int) -> list[Output]:
        """Note a colour frame (an Image of `register.to` or `point_cloud.color_from`); the clouds it completes."""
        with self._lock:
            self._colour_frames[topic] = frame_id
            if self.cloud is None or topic != self.cloud.color_from:
                return []
            self._colours.append(_Frame(stamp, frame_id, msg, {}, _NO_PRODUCTS))
            return self._pair(final=False)

    def flush(self) -> list[Output]:
        """The clouds of the depth frames still waiting, decided with the colour frames there are."""
        with self._lock:
            return self._pair(final=True)

    def lines(self) -> list[str]:
        """Summary lines: what became of the frames, per product."""
        lines = []
        for product, counts in self.counts.items():
            if counts:
                what = ", ".join(f"{n} {label}" for label, n in sorted(counts.items(), key=lambda item: item[0] != "logged"))
                lines.append(f"{self.topic} ({product}): {what}")
        return lines

    # -- pairing and products ------------------------------------------------------------------

    def _rate_limited(self, stamp: int) -> bool:
        max_rate = self.cloud.max_rate if self.cloud else None
        if max_rate and self._last_cloud is not None and 0 <= stamp - self._last_cloud < 1e9 / max_rate:
            return True
        self._last_cloud = stamp
        return False

    def _pair(self, final: bool) -> list[Output]:
        outputs = []
        newest_colour = max((c.stamp for c in self._colours), default=None)
        while self._pending:
            depth = self._pending[0]
            decided = final or len(self._pending) > PENDING or (newest_colour is not None and newest_colour >= depth.stamp)
            if not decided:
                break
            self._pending.popleft()
            outputs += self._attempt("cloud", self._cloud, depth)
        return outputs

    def _attempt(self, product: str, make: Callable[[_Frame], Output], frame: _Frame) -> list[Output]:
        """`make`'s row, counted; a frame that gets none is counted by reason, and each reason said once."""
        counts = self.counts[product]
        try:
            output = make(frame)
        except _NotNow as why:
            counts[why.label] += 1
            if not why.waiting or counts[why.label] == WAITING_WARNING:
                self._warn(f"{'not registered' if product == 'registered' else 'no cloud'}: {why.detail}")
            return []
        except ConversionError as err:
            counts["failed"] += 1
            self._warn(f"{'not registered' if product == 'registered' else 'no cloud'}: {err}")
            return []
        counts["logged"] += 1
        return [output]

    def _registered(self, depth: _Frame) -> Output:
        assert self.register is not None
        camera, colour, colour_from_depth, pixels = self._geometry(depth, self.register.to, self._colour_frames.get(self.register.to, ""))
        registered = register_depth(pixels, camera.matrix, colour.matrix, colour.size, colour_from_depth, self._meter(pixels))
        image = depth_archetype(registered, self._depth_options, self._depth_compression)
        assert depth.products.registered is not None
        return Output(depth.products.registered, (image, rr.CoordinateFrame(image_plane_frame(colour.frame))), depth.times)

    def _cloud(self, depth: _Frame) -> Output:
        assert self.cloud is not None
        tolerance = self.cloud.stamp_tolerance * 1e9
        nearest = min(self._colours, key=lambda c: abs(c.stamp - depth.stamp), default=None)
        if nearest is None or abs(nearest.stamp - depth.stamp) > tolerance:
            offset = "no colour frame" if nearest is None else f"the nearest colour frame is {abs(nearest.stamp - depth.stamp) / 1e6:.1f} ms off"
            raise _NotNow("unmatched", f"{offset} (point_cloud.stamp_tolerance: {self.cloud.stamp_tolerance} s)")
        camera, colour, colour_from_depth, pixels = self._geometry(depth, self.cloud.color_from, nearest.frame_id)
        colours = rgb_pixels(nearest.msg, self._max_pixels)
        if colours.shape[1::-1] != colour.size:
            raise ConversionError(f"colour image is {colours.shape[1]}x{colours.shape[0]}, its calibration is for "
                                  f"{colour.size[0]}x{colour.size[1]}")  # fmt: skip
        points, rgb = coloured_cloud(pixels, camera.matrix, self._meter(pixels), colours, colour.matrix, colour_from_depth,
                                     self.cloud.max_points)  # fmt: skip
        assert depth.products.cloud is not None
        return Output(depth.products.cloud, (rr.Points3D(points, colors=rgb), rr.CoordinateFrame(depth.frame_id)), depth.times)

    def _geometry(self, depth: _Frame, colour_topic: str, colour_frame: str) -> tuple[Camera, Camera, np.ndarray, np.ndarray]:
        """(depth camera, colour camera, colour_from_depth at the depth stamp, depth pixels); _NotNow when one is missing.

        `colour_frame`: the colour image's frame_id; "" before its first image (then its CameraInfo's frame)."""
        if not depth.frame_id:
            raise _NotNow("no frame_id", "an empty frame_id (set frame_id for the topic in the config)")
        camera = self._depth_camera(depth)
        colour = self._camera(colour_topic, colour_frame)
        if colour is None:
            raise _NotNow("waiting for CameraInfo", f"no CameraInfo for {colour_topic} yet", waiting=True)
        if not colour.frame:
            raise _NotNow("no frame_id", f"{colour_topic} has an empty frame_id (set frame_id for it in the config)")
        try:
            colour_from_depth = self._tf.lookup(colour.frame, depth.frame_id, depth.stamp)
        except TfError as err:
            raise _NotNow("no transform", f"no transform {depth.frame_id} -> {colour.frame}: {err}") from None
        pixels = depth_pixels(depth.msg, self._max_pixels)
        if pixels.shape[::-1] != camera.size:
            raise ConversionError(f"depth image is {pixels.shape[1]}x{pixels.shape[0]}, its calibration is for "
                                  f"{camera.size[0]}x{camera.size[1]}")  # fmt: skip
        return camera, colour, colour_from_depth, pixels

    def _depth_camera(self, depth: _Frame) -> Camera:
        camera = self._camera(self.topic, depth.frame_id)
        if camera is None:
            raise _NotNow("waiting for CameraInfo", f"no CameraInfo for {self.topic} yet", waiting=True)
        return camera

    def _meter(self, pixels: np.ndarray) -> float:
        meter = self._depth_options.meter
        return default_meter(pixels) if meter is None else meter
