"""Which topics are bridged, to which entity, with which conversion."""

from __future__ import annotations

from dataclasses import dataclass

from ..config import (
    CAMERA_INFO_TYPE, COMPRESSED_TYPE, IMAGE_TYPE, KIND_TYPES, SUPPORTED_TYPES, TF_TYPE, VIDEO_TYPES, BridgeConfig, TopicConfig,
    TopicKind,
)  # fmt: skip

STATIC_TF_NAME = "tf_static"  # /tf_static, or namespaced: /robot1/tf_static


class RouteError(ValueError):
    """A topic the config names with a kind its message type cannot have; the caller adds the topic."""


@dataclass(frozen=True)
class Route:
    topic: str
    msgtype: str
    kind: TopicKind | None  # None: decided per message from its encoding or format
    entity_path: str
    options: TopicConfig

    @property
    def carries_images(self) -> bool:
        return self.msgtype in (IMAGE_TYPE, COMPRESSED_TYPE) or self.msgtype in VIDEO_TYPES

    @property
    def static_tf(self) -> bool:
        return self.msgtype == TF_TYPE and self.topic.rsplit("/", 1)[-1] == STATIC_TF_NAME


def plan_route(config: BridgeConfig, topic: str, msgtype: str) -> Route | None:
    """The route for a topic, or None when it is not bridged."""
    listed = topic in config.topics
    if not config.selects(topic) or not (listed or config.auto):
        return None
    options = config.topic(topic)
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
    return Route(topic, msgtype, kind, options.entity_path or topic, options)
