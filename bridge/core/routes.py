"""Which topics are bridged, to which entity, with which conversion."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..conversion.compressed import is_compressed_depth
from ..conversion.image import DEFAULT_DEPTH_ENCODINGS
from ..conversion.namespaces import NamespacedTopic, entity_path, frame_prefix, full_topic, prefixed_frame, split_topic
from ..config import (
    CAMERA_INFO_TYPE, COMPRESSED_TYPE, IMAGE_TYPE, KIND_TYPES, SUPPORTED_TYPES, TF_TYPE, VIDEO_TYPES, BridgeConfig, TopicConfig,
    TopicKind,
)  # fmt: skip

STATIC_TF_NAME = "tf_static"  # /tf_static, or namespaced: /robot1/tf_static
GLOBAL_TF_TOPICS = ("/tf", "/tf_static")  # a fleet's shared TF, bridged as it is when frames are not prefixed


# Image kinds the config can give a topic: whether they make its images depth.
_AS_DEPTH = {TopicKind.DEPTH: True, TopicKind.COMPRESSED_DEPTH: True, TopicKind.IMAGE: False, TopicKind.COMPRESSED: False}


class RouteError(ValueError):
    """A topic the config names with a kind its message type cannot have; the caller adds the topic."""


@dataclass(frozen=True)
class NotBridged:
    """Why a topic is not bridged (`info` shows it)."""

    reason: str


@dataclass(frozen=True)
class Route:
    topic: str
    msgtype: str
    kind: TopicKind | None  # None: decided per message from its encoding or format
    entity_path: str
    options: TopicConfig
    name: str  # the topic as the config names it: without the robot's namespace
    namespace: str = ""  # the robot's, in a fleet: the entities of the topic go under it
    frame_prefix: str = ""  # given to every frame name the topic carries: `robot1/` in a fleet
    shared_frames: frozenset[str] = frozenset()  # but these, which every robot of the fleet shares

    def frame(self, frame_id: str) -> str:
        """A frame name as it is logged: with the robot's prefix, in a fleet."""
        return prefixed_frame(self.frame_prefix, frame_id, self.shared_frames)

    def entity(self, configured_path: str) -> str:
        """An entity path the config gives for this topic (besides `entity_path`), under the robot's namespace."""
        return entity_path(self.namespace, configured_path)

    @property
    def carries_images(self) -> bool:
        return self.msgtype in (IMAGE_TYPE, COMPRESSED_TYPE) or self.msgtype in VIDEO_TYPES

    @property
    def rectified_entity_path(self) -> str | None:
        """Where the topic's rectified images go (`rectify.entity_path`, else ENTITY/rect); None: not rectified."""
        rectify = self.options.rectify
        if rectify is None or not self.carries_images:
            return None
        return self.entity(rectify.entity_path) if rectify.entity_path else self.entity_path.rstrip("/") + "/rect"

    @property
    def registered_entity_path(self) -> str | None:
        """Where the topic's depth registered into a colour camera goes (`register.entity_path`, else
        ENTITY/registered); None: not registered (only raw Image depth topics are)."""
        register = self.options.register
        return self._depth_product(register and register.entity_path, "registered") if register else None

    @property
    def cloud_entity_path(self) -> str | None:
        """Where the topic's coloured cloud goes (`point_cloud.entity_path`, else ENTITY/points); None: no cloud."""
        cloud = self.options.point_cloud
        return self._depth_product(cloud and cloud.entity_path, "points") if cloud else None

    def _depth_product(self, configured_path: str | None, child: str) -> str | None:
        if self.msgtype != IMAGE_TYPE:
            return None
        return self.entity(configured_path) if configured_path else self.entity_path.rstrip("/") + "/" + child

    @property
    def configured_as_depth(self) -> bool | None:
        """Whether the config makes the topic's images depth (kind depth, compressed_depth) or not (image,
        compressed); None: each message's encoding or format decides."""
        return _AS_DEPTH.get(self.kind)  # type: ignore[arg-type]

    def as_depth(self, msg: Any) -> bool:
        """Whether an image of the topic is depth: as its kind says, else by its encoding (Image: 16UC1 and 32FC1)
        or its format (CompressedImage: compressedDepth)."""
        if (configured := self.configured_as_depth) is not None:
            return configured
        if self.msgtype == IMAGE_TYPE:
            return msg.encoding.upper() in DEFAULT_DEPTH_ENCODINGS
        return is_compressed_depth(msg.format)

    def encodes_video(self, msg: Any) -> bool:
        """Whether an Image or CompressedImage of the topic is encoded as video here (`video`; never depth)."""
        return self.options.video is not None and not self.as_depth(msg)

    @property
    def image_entity_paths(self) -> list[str]:
        """The entities the topic's images go to: its own, and its rectified images'."""
        if not self.carries_images:
            return []
        return [path for path in (self.entity_path, self.rectified_entity_path) if path is not None]

    @property
    def static_tf(self) -> bool:
        return self.msgtype == TF_TYPE and self.topic.rsplit("/", 1)[-1] == STATIC_TF_NAME


def plan_route(config: BridgeConfig, topic: str, msgtype: str) -> Route | None:
    """The route for a topic, or None when it is not bridged."""
    route = route_or_reason(config, topic, msgtype)
    return route if isinstance(route, Route) else None


def route_or_reason(config: BridgeConfig, topic: str, msgtype: str) -> Route | NotBridged:
    """The route for a topic, or why it is not bridged. RouteError: the config lists it, and it cannot be."""
    placed = placed_topic(config, topic)
    if placed is None:
        return NotBridged("in none of the namespaces")
    name = placed.name
    listed = name in config.topics
    if not config.selects(name):
        return NotBridged("include/exclude")
    if not (listed or config.auto):
        return NotBridged("not in the config, and auto is off")
    options = config.topic(name)
    if options.kind is not None and KIND_TYPES[options.kind] != msgtype:
        raise RouteError(
            f"not bridged: its type {msgtype} does not fit its configured kind {options.kind.value!r}, "
            f"which takes {KIND_TYPES[options.kind]}"
        )
    if msgtype not in SUPPORTED_TYPES:
        if listed:
            raise RouteError(f"not bridged: its type {msgtype} is not one the bridge converts")
        return NotBridged("not a camera or TF type")
    # CameraInfo and TF have one conversion each; images are decided per message unless the config says.
    kind = {CAMERA_INFO_TYPE: TopicKind.CAMERA_INFO, TF_TYPE: TopicKind.TF}.get(msgtype, options.kind)
    prefix = frame_prefix(placed.namespace) if config.prefix_frames else ""
    path = entity_path(placed.namespace, options.entity_path or name)
    return Route(topic, msgtype, kind, path, options, name, placed.namespace, prefix, config.shared_frames)


def configured_topics(config: BridgeConfig) -> dict[str, tuple[str, TopicConfig]]:
    """Each topic the config lists as it is published, with (its name in the config, its options).

    In a fleet, each listed topic under each robot's namespace (in a source of one robot, as listed); but the
    shared /tf and /tf_static as they are where frames are not prefixed.
    """
    return {name if not config.prefix_frames and name in GLOBAL_TF_TOPICS else published_topic(config, ns, name): (name, options)
            for ns in robots(config) for name, options in config.topics.items()}  # fmt: skip


def robots(config: BridgeConfig) -> tuple[str, ...]:
    """The namespaces the config's topics are bridged in: the fleet's robots; "" for no fleet."""
    return config.namespaces or ("",)


def published_topic(config: BridgeConfig, ns: str, name: str) -> str:
    """A configured topic as robot `ns` publishes it: under its namespace, but in a source of one robot (whose
    topics carry no namespace) as it is named."""
    return full_topic(ns, name) if config.topics_namespaced else name


def placed_topic(config: BridgeConfig, topic: str) -> NamespacedTopic | None:
    """Which robot a topic is of, and its name there; None for a topic of none of the fleet's robots.

    Without `namespaces` every topic is its own name; in a source of one robot whose topics carry no namespace,
    every topic is that robot's. In a fleet whose frames are not prefixed, the global /tf and /tf_static are
    bridged as they are: the robots' frames are distinct already.
    """
    if not config.namespaces:
        return NamespacedTopic("", topic)
    if not config.topics_namespaced:
        return NamespacedTopic(config.namespaces[0], topic)
    placed = split_topic(topic, config.namespaces)
    if placed is None and not config.prefix_frames and topic in GLOBAL_TF_TOPICS:
        return NamespacedTopic("", topic)
    return placed
