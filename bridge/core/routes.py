"""Which topics are bridged, to which entity, with which conversion."""

from __future__ import annotations

from dataclasses import dataclass

from ..config import KIND_TYPES, SUPPORTED_TYPES, TF_TYPE, BridgeConfig, TopicConfig, TopicKind

STATIC_TF_TOPIC = "/tf_static"


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
    def static_tf(self) -> bool:
        return self.msgtype == TF_TYPE and self.topic == STATIC_TF_TOPIC


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
    kind = options.kind or (TopicKind.CAMERA_INFO if msgtype == KIND_TYPES[TopicKind.CAMERA_INFO] else None)
    if msgtype == TF_TYPE:
        kind = TopicKind.TF
    return Route(topic, msgtype, kind, options.entity_path or topic, options)
