"""`Geometry`: the bridge's TF buffer and the RGB-D stages of the depth topics with `register` or `point_cloud`.

The `Bridge` hands it every transform it logs and every image it converts; images of a depth topic with
either option, and of the colour topics those name, go to that depth topic's `RgbdStage`, which gives back
rows to log. A colour topic that is not a raw Image topic is said once on the depth topic that names it.

In a fleet each robot's depth topic has a stage of its own, fed by that robot's colour topic only: the config
names one robot's topics, and the stage is given them as the robot publishes them (`/robot1/camera/...`). Its
rows go where the depth topic's route says (`Route.registered_entity_path`, `cloud_entity_path`: under the
robot's namespace). Frames are looked up as they are logged (`robot1/...`).
"""

from __future__ import annotations

import functools
from dataclasses import replace
from typing import Any, Callable

from ..config import IMAGE_TYPE, BridgeConfig, TopicConfig
from ..conversion.camera_info import published_intrinsics
from ..conversion.rectify import Calibration
from ..streams.rgbd import Camera, Output, Products, RgbdStage, Times
from ..streams.tf_buffer import TfBuffer
from .routes import Route, placed_topic, published_topic, robots

# (image topic, its frame_id) -> (CameraInfo topic, its frame, its latest calibration), as `Bridge._calibration_entry`
CalibrationLookup = Callable[[str, str], tuple[str, str, Calibration] | None]


class Geometry:
    def __init__(self, config: BridgeConfig, calibration: CalibrationLookup, warn: Callable[[str, str], None]):
        self.config = config
        self.tf = TfBuffer()
        self._calibration = calibration
        self._warn = warn
        self._stages: dict[str, RgbdStage] = {}  # depth topic, as published -> its stage
        for ns in robots(config):
            for name in config.topics:
                options = config.topic(name)  # with the config-wide depth_compression
                if options.register or options.point_cloud:
                    stage = self._robot_stage(ns, name, options)
                    self._stages[stage.topic] = stage
        self._by_colour: dict[str, list[RgbdStage]] = {}  # colour topic, as published -> the stages it feeds
        for stage in self._stages.values():
            for colour in stage.colour_topics:
                self._by_colour.setdefault(colour, []).append(stage)

    def _robot_stage(self, ns: str, name: str, options: TopicConfig) -> RgbdStage:
        """The stage of robot `ns`'s depth topic `name` (as the config names it): its topics as that robot
        publishes them (its entity paths are the depth topic's route's)."""
        topic = functools.partial(published_topic, self.config, ns)
        register, cloud = options.register, options.point_cloud
        if register is not None:
            register = replace(register, to=topic(register.to))
        if cloud is not None:
            cloud = replace(cloud, color_from=topic(cloud.color_from))
        depth_topic = topic(name)
        return RgbdStage(depth_topic, register, cloud, options.depth, self.tf, self.camera,
                         functools.partial(self._warn, depth_topic), options.max_pixels, options.depth_compression)  # fmt: skip

    def image(self, route: Route, msg: Any, frame_id: str, stamp: int, times: Times) -> list[Output]:
        """The rows an image message gives beside its own: registered depth, clouds."""
        outputs = []
        if (stage := self._stages.get(route.topic)) is not None:
            if route.msgtype == IMAGE_TYPE:
                products = Products(route.registered_entity_path, route.cloud_entity_path)
                outputs += stage.depth(msg, products, frame_id, stamp, times)
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
        placed = placed_topic(self.config, info_topic)  # its options are under its name in the config
        name = placed.name if placed is not None else info_topic  # None: no robot's (a topic outside the fleet)
        matrix, size = published_intrinsics(calibration.as_message(), self.config.topic(name).intrinsics)
        return Camera(frame_id or info_frame, matrix, size)

    def flush(self) -> list[Output]:
        return [output for stage in self._stages.values() for output in stage.flush()]

    def lines(self) -> list[str]:
        return [line for topic in sorted(self._stages) for line in self._stages[topic].lines()]
