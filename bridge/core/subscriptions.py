"""What a live ROS 2 subscriber subscribes to, and with which QoS; the rclpy node applies it.

Kept free of rclpy so that it can be tested (and reused) where ROS is not installed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Collection, Mapping

from ..config import KIND_TYPES, SUPPORTED_TYPES, BridgeConfig, Qos, TopicKind
from .routes import Route, configured_topics
from .stats import TopicStats

TF_DEPTH = 100  # as tf2_ros's TransformListener subscribes to /tf and /tf_static


@dataclass(frozen=True)
class SubscriptionQos:
    """A KEEP_LAST QoS profile, in terms that map one to one onto rclpy's."""

    reliable: bool
    transient_local: bool
    depth: int


def subscription_qos(route: Route) -> SubscriptionQos:
    """The QoS to subscribe to a route's topic with.

    Camera topics default to best effort (sensor data), which matches both reliable and
    best-effort publishers, and keep only `queue_size` frames. TF follows tf2_ros: reliable,
    and transient local for /tf_static so that transforms latched before the bridge started arrive.
    """
    if route.kind is TopicKind.TF:
        return SubscriptionQos(reliable=True, transient_local=route.static_tf, depth=TF_DEPTH)
    options = route.options
    return SubscriptionQos(reliable=options.qos is Qos.RELIABLE, transient_local=False, depth=options.queue_size)


def typed_topics(config: BridgeConfig) -> list[tuple[str, str]]:
    """(topic, message type) of each topic the config gives a kind: these are subscribed before anyone publishes."""
    topics = configured_topics(config).items()
    return [(topic, KIND_TYPES[options.kind]) for topic, (_, options) in topics if options.kind is not None]


def needs_discovery(config: BridgeConfig) -> bool:
    """Whether to watch the ROS graph: for `auto`, and for listed topics whose type only the graph tells."""
    return config.auto or any(options.kind is None for options in config.topics.values())


def silent_topic_warnings(config: BridgeConfig, stats: Mapping[str, TopicStats], graph: Mapping[str, Collection[str]]) -> list[str]:
    """One warning per configured topic that has had no message, saying whether anyone publishes it.

    `graph` maps each topic that has a publisher to its message types. The warning names the camera
    and TF topics that do exist, since a wrong name or namespace is the usual cause.
    """
    published = sorted(topic for topic, types in graph.items() if SUPPORTED_TYPES.intersection(types))
    elsewhere = ", ".join(published[:12]) + (", ..." if len(published) > 12 else "") if published else "none"
    warnings = []
    for topic, (name, options) in configured_topics(config).items():
        if not config.selects(name) or (topic in stats and stats[topic].received):
            continue
        types = graph.get(topic)
        if not types:
            warnings.append(f"{topic}: no publisher (camera and TF topics published: {elsewhere})")
        elif options.kind is not None and KIND_TYPES[options.kind] not in types:
            warnings.append(f"{topic}: published as {', '.join(sorted(types))}, not {KIND_TYPES[options.kind]} (its kind)")
        elif options.qos is Qos.RELIABLE:
            warnings.append(f"{topic}: published, but nothing arrived: a best-effort publisher does not match the "
                            "reliable subscription its `qos: reliable` asks for")  # fmt: skip
        else:
            warnings.append(f"{topic}: published, but nothing arrived: the publisher has not published yet, or its "
                            "large frames are lost in UDP (raise net.core.rmem_max, see the README)")  # fmt: skip
    return warnings
