"""Which topics are bridged, to which entity, with which conversion."""

from __future__ import annotations

from dataclasses import dataclass

from ..conversion.namespaces import NamespacedTopic, entity_path, frame_prefix, full_topic, prefixed_frame, split_topic
from ..config import (
    CAMERA_INFO_TYPE, COMPRESSED_TYPE, IMAGE_TYPE, KIND_TYPES, SUPPORTED_TYPES, TF_TYPE, VIDEO_TYPES, BridgeConfig, TopicConfig,
    TopicKind,
)  # fmt: skip

STATIC_TF_NAME = "tf_static"  # /tf_static, or namespaced: /robot1/tf_static
GLOBAL_TF_TOPICS = ("/tf", "/tf_static")  # a fleet's shared TF, bridged as it is when frames are not prefixed


class RouteError(ValueError):
    """A topic the config names with a kind its message type cannot have; the caller adds the topic."""


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
    placed = placed_topic(config, topic)
    if placed is None:
        return None
    name = placed.name
    listed = name in config.topics
    if not config.selects(name) or not (listed or config.auto):
        return None
    options = config.topic(name)
    if options.kind is not None and KIND_TYPES[options.kind] != msgtype:
        raise RouteError(
            f"not bridged: its type {msgtype} does not fit its configured kind {options.kind.value!r}, "
            f"which takes {KIND_TYPES[options.kind]}"
        )
    if msgtype not in SUPPORTED_TYPES:
        if listed:
            raise RouteError(f"not bridged: its type {msgtype} is not one the bridge converts")
        return None
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
