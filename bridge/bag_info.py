"""`ros2-rerun-bridge info`: a bag's topics and what each would become, without converting anything.

The dry run of a replay, as `ros2 bag info` and `rerun mcap info` are for their tools: the same
routing as the replay (config, include/exclude, auto), so that a config can be checked on a bag.
"""

from __future__ import annotations

from pathlib import Path

from .config import COMPRESSED_TYPE, IMAGE_TYPE, BridgeConfig
from .core.routes import RouteError, plan_route
from .sources.bag import Bag

# What a route without a configured kind becomes, decided per message.
_BY_MESSAGE = {IMAGE_TYPE: "image or depth, by encoding", COMPRESSED_TYPE: "compressed or compressedDepth, by format"}
_ARCHETYPES = {"image": "Image", "depth": "DepthImage", "compressed": "EncodedImage",
               "compressed_depth": "EncodedDepthImage / DepthImage", "camera_info": "Pinhole", "tf": "Transform3D"}  # fmt: skip


def describe_bag(path: Path, config: BridgeConfig) -> str:
    """A table of the bag's topics: type, messages, and the entity and archetype each becomes (or why not)."""
    with Bag(path) as bag:
        topics = bag.topics()
        seconds = (bag.end_ns - bag.start_ns) / 1e9 if topics else 0.0
        rows = [(topic, info.msgtype, str(info.count), _becomes(config, topic, info.msgtype))
                for topic, info in sorted(topics.items())]  # fmt: skip
    bridged = sum(1 for row in rows if not row[3].startswith("-"))
    header = f"{path}: {len(topics)} topics, {sum(i.count for i in topics.values())} messages, {seconds:.1f} s; {bridged} bridged"
    return "\n".join([header, *_aligned([("topic", "type", "messages", "becomes"), *rows])])


def _becomes(config: BridgeConfig, topic: str, msgtype: str) -> str:
    try:
        route = plan_route(config, topic, msgtype)
    except RouteError as err:
        return f"- {err}"
    if route is None:
        return "- not bridged" if config.selects(topic) else "- not bridged (include/exclude)"
    if route.kind is None:
        return f"{route.entity_path}: {_BY_MESSAGE[msgtype]}"
    static = ", static" if route.static_tf else ""
    return f"{route.entity_path}: {_ARCHETYPES[route.kind.value]}{static}"


def _aligned(rows: list[tuple[str, ...]]) -> list[str]:
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]) - 1)]
    return ["  " + "  ".join(cell.ljust(width) for cell, width in zip(row, widths)) + "  " + row[-1] for row in rows]
