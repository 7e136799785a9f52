"""`Geometry`: the bridge's TF buffer and the RGB-D stages of the depth topics with `register` or `point_cloud`.

The `Bridge` hands it every transform it logs and every image it converts; images of a depth topic with
either option, and of the colour topics those name, go to that depth topic's `RgbdStage`, which gives back
rows to log. A colour topic that is not a raw Image topic is said once on the depth topic that names it.
"""

from __future__ import annotations

from typing import Any, Callable

from ..config import IMAGE_TYPE, BridgeConfig
from ..conversion.camera_info import published_intrinsics
from ..conversion.rectify import Calibration
from ..streams.rgbd import Camera, Output, RgbdStage, Times
from ..streams.tf_buffer import TfBuffer
from .routes import Route

# (image topic, its frame_id) -> (CameraInfo topic, its frame, its latest calibration), as `Bridge._calibration_entry`
CalibrationLookup = Callable[[str, str], tuple[str, str, Calibration] | None]


class Geometry:
    def __init__(self, config: BridgeConfig, calibration: CalibrationLookup, warn: Callable[[str, str], None]):
        self.config = config
        self.tf = TfBuffer()
        self._calibration = calibration
        self._warn = warn
        self._stages: dict[str, RgbdStage] = {}  # depth topic -> its stage
        for topic in config.topics:
            options = config.topic(topic)  # with the config-wide depth_compression
            if options.register or options.point_cloud:
                self._stages[topic] = RgbdStage(topic, options.register, options.point_cloud, options.depth, self.tf,
                                                self.camera, lambda problem, t=topic: warn(t, problem), options.max_pixels,
                                                options.depth_compression)  # fmt: skip
        self._by_colour: dict[str, list[RgbdStage]] = {}  # colour topic -> the stages it feeds
        for stage in self._stages.values():
            for colour in stage.colour_topics:
                self._by_colour.setdefault(colour, []).append(stage)

    def image(self, route: Route, msg: Any, frame_id: str, stamp: int, times: Times) -> list[Output]:
        """The rows an image message gives beside its own: registered depth, clouds."""
        outputs = []
        if (stage := self._stages.get(route.topic)) is not None:
            if route.msgtype == IMAGE_TYPE:
                outputs += stage.depth(msg, route.entity_path, frame_id, stamp, times)
            else:
                self._warn(route.topic, f"not registered, no cloud: a {route.msgtype} topic (raw Image depth topics only)")
        for stage in self._by_colour.get(route.topic, ()):
            if route.msgtype == IMAGE_TYPE:
                outputs += stage.colour(route.topic, msg, frame_id, stamp)
            else:
                self._warn(stage.topic, f"not registered, no cloud: {route.topic} is a {route.msgtype} topic, not an Image")
        return outputs

    def camera(self, topic: str, frame_id: str) -> Camera | None:
        """An image topic's camera as its Pinhole has it: the matrix its CameraInfo topic's `intrinsics` says; its
        frame is the image's `frame_id`, or (before the first image, "") its CameraInfo's."""
        found = self._calibration(topic, frame_id)
        if found is None:
            return None
        info_topic, info_frame, calibration = found
        matrix, size = published_intrinsics(calibration.as_message(), self.config.topic(info_topic).intrinsics)
        return Camera(frame_id or info_frame, matrix, size)

    def flush(self) -> list[Output]:
        return [output for stage in self._stages.values() for output in stage.flush()]

    def lines(self) -> list[str]:
        return [line for topic in sorted(self._stages) for line in self._stages[topic].lines()]
