"""`ros2-rerun-bridge info`: a bag's topics and what each would become, without converting anything.

The dry run of a replay, as `ros2 bag info` and `rerun mcap info` are for their tools: the same
routing as the replay (config, include/exclude, auto), so that a config can be checked on a bag.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .config import FFMPEG_PACKET_TYPE, IMAGE_TYPE, VIDEO_TYPES, BridgeConfig
from .conversion.compressed import is_compressed_depth
from .conversion.image import DEFAULT_DEPTH_ENCODINGS
from .conversion.video import codec_from_format
from .core.routes import Route, RouteError, placed_topic, plan_route
from .sources.bag import Bag, BagError

_ARCHETYPES = {"image": "Image", "depth": "DepthImage", "compressed": "EncodedImage",
               "compressed_depth": "EncodedDepthImage / DepthImage", "camera_info": "Pinhole", "tf": "Transform3D",
               "compressed_video": "VideoStream", "ffmpeg_packet": "VideoStream"}  # fmt: skip
# Image and CompressedImage topics without a configured kind are decided by their messages' encoding or format:
# by the first message within this long of the bag's start (a topic that starts later is not waited for).
PEEK_NS = 10_000_000_000


def describe_bag(path: Path, config: BridgeConfig) -> str:
    """A table of the bag's topics: type, messages, and the entity and archetype each becomes (or why not)."""
    with Bag(path) as bag:
        topics = bag.topics()
        seconds = (bag.end_ns - bag.start_ns) / 1e9 if topics else 0.0
        routes = {topic: _route(config, topic, info.msgtype) for topic, info in topics.items()}
        firsts = _first_messages(bag, [t for t, route in routes.items() if isinstance(route, Route) and route.kind is None])
        rows = [(topic, info.msgtype, str(info.count), _becomes(config, topic, routes[topic], firsts.get(topic)))
                for topic, info in sorted(topics.items())]  # fmt: skip
    bridged = sum(1 for row in rows if not row[3].startswith("-"))
    header = f"{path}: {len(topics)} topics, {sum(i.count for i in topics.values())} messages, {seconds:.1f} s; {bridged} bridged"
    return "\n".join([header, *_aligned([("topic", "type", "messages", "becomes"), *rows])])


def _route(config: BridgeConfig, topic: str, msgtype: str) -> Route | str | None:
    """The topic's route, None when not bridged, or why it cannot be (a string)."""
    try:
        return plan_route(config, topic, msgtype)
    except RouteError as err:
        return str(err)


def _first_messages(bag: Bag, topics: list[str]) -> dict[str, Any]:
    """The first message of each of `topics` in the bag's first PEEK_NS (a damaged bag's, as far as it reads)."""
    firsts: dict[str, Any] = {}
    if not topics:
        return firsts
    try:
        for message in bag.messages(set(topics), end_ns=bag.start_ns + PEEK_NS):
            if message.topic not in firsts:
                try:
                    firsts[message.topic] = bag.deserialize(message.raw, message.msgtype)
                except Exception:  # noqa: BLE001 - a garbled message: its kind stays undecided, as the replay would warn
                    continue
                if len(firsts) == len(topics):
                    break
    except BagError:
        pass  # said by the replay; `info` describes what it can
    return firsts


def _becomes(config: BridgeConfig, topic: str, route: Route | str | None, first: Any) -> str:
    if isinstance(route, str):
        return f"- {route}"
    if route is None:
        if (placed := placed_topic(config, topic)) is None:
            return "- not bridged (in none of the namespaces)"
        return "- not bridged" if config.selects(placed.name) else "- not bridged (include/exclude)"
    if route.kind is None:
        return f"{route.entity_path}: {_by_message(route.msgtype, first)}"
    static = ", static" if route.static_tf else ""
    return f"{route.entity_path}: {_ARCHETYPES[route.kind.value]}{static}"


def _by_message(msgtype: str, msg: Any) -> str:
    """What an Image or CompressedImage becomes, as the bridge decides it for each message."""
    if msgtype == IMAGE_TYPE:
        if msg is None:
            return "Image or DepthImage, by encoding (no message early in the bag)"
        kind = "DepthImage" if msg.encoding.upper() in DEFAULT_DEPTH_ENCODINGS else "Image"
        return f"{kind} ({msg.encoding}, {msg.width}x{msg.height})"
    if msg is None:
        return "decided by format (no message early in the bag)"
    format_string = msg.encoding if msgtype == FFMPEG_PACKET_TYPE else msg.format
    if codec := codec_from_format(format_string):
        return f"VideoStream ({codec.value})"
    if msgtype in VIDEO_TYPES:
        return f"VideoStream, but its format {format_string!r} is not one Rerun plays (h264, h265, av1)"
    if is_compressed_depth(format_string):
        return f"EncodedDepthImage / DepthImage ({format_string})"
    return f"EncodedImage ({format_string})"


def _aligned(rows: list[tuple[str, ...]]) -> list[str]:
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]) - 1)]
    return ["  " + "  ".join(cell.ljust(width) for cell, width in zip(row, widths)) + "  " + row[-1] for row in rows]
