"""`ros2-rerun-bridge info`: a bag's topics and what each would become, without converting anything.

The dry run of a replay, as `ros2 bag info` and `rerun mcap info` are for their tools: the same routing as the
replay (config, include/exclude, auto, fleets), so that a config can be checked on a bag. Each topic gets its
entity and archetype, and the entities its options add (rectified images, registered depth, clouds, video); a
topic that is not bridged gets the reason. Cheap on a healthy bag: its topics and counts come from the files'
summaries, and only the first message of each image topic is read. But honest about damage: opening the bag
checks what a replay's opening checks (an MCAP file's summary and chunk index, a sqlite3 file's size and rows),
and a damaged file is scanned to count what a replay would read of it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .config import FFMPEG_PACKET_TYPE, IMAGE_TYPE, VIDEO_TYPES, BridgeConfig
from .conversion import ConversionError
from .conversion.image import lookup_encoding
from .conversion.options import DepthCompression
from .conversion.video import codec_from_format
from .core.bridge import VIDEO_NOT_RECTIFIED
from .core.routes import NotBridged, Route, RouteError, published_topic, route_or_reason
from .sources.bag import Bag, BagError

_ARCHETYPES = {"camera_info": "Pinhole", "tf": "Transform3D"}  # of the kinds that are not images
_DEPTH_CODECS = {DepthCompression.PNG: "png", DepthCompression.RVL: "rvl", DepthCompression.AUTO: "png or rvl, the smaller per frame"}
# What an image topic becomes depends on its messages' encoding or format: the first message within this long
# of the bag's start tells (a topic that starts later is not waited for).
PEEK_NS = 10_000_000_000


@dataclass(frozen=True)
class BagInfo:
    text: str  # the table, with a line per damaged file
    topics: frozenset[str]
    damaged: bool  # as a replay would find it at open (or in the messages read here): it would fail


@dataclass(frozen=True)
class _Image:
    """What a topic's images become: an archetype with details, or video passed through as it comes."""

    archetype: str
    details: str = ""
    passed_through: bool = False

    def __str__(self) -> str:
        return f"{self.archetype} ({self.details})" if self.details else self.archetype


def describe_bag(path: Path, config: BridgeConfig) -> BagInfo:
    """A table of the bag's topics: type, messages, and the entities each becomes (or why not); then its damage."""
    with Bag(path) as bag:
        topics = bag.topics()
        messages = sum(info.count for info in topics.values())
        seconds = (bag.end_ns - bag.start_ns) / 1e9 if messages else 0.0
        routes = {topic: _route(config, topic, info.msgtype) for topic, info in topics.items()}
        images = [t for t, route in routes.items() if isinstance(route, Route) and route.carries_images]
        firsts, problem = _first_messages(bag, images)
        damage = bag.damage() or ([problem] if problem else [])  # the files' damage, else what stopped the reading
        rows = [(topic, info.msgtype, str(info.count), becomes)
                for topic, info in sorted(topics.items())
                for becomes in _becomes(config, routes[topic], firsts.get(topic))]  # fmt: skip
    bridged = sum(isinstance(route, Route) for route in routes.values())
    header = f"{path}: {len(topics)} topics, {messages} messages, {seconds:.1f} s; {bridged} bridged"
    damaged = [f"  damaged: {text}" for text in damage]
    table = _aligned([("topic", "type", "messages", "becomes"), *_continued(rows)])
    return BagInfo("\n".join([header, *damaged, *table]), frozenset(topics), bool(damage))


def _route(config: BridgeConfig, topic: str, msgtype: str) -> Route | NotBridged | str:
    """The topic's route, why it is not bridged, or why it cannot be (a string)."""
    try:
        return route_or_reason(config, topic, msgtype)
    except RouteError as err:
        return str(err)


def _first_messages(bag: Bag, topics: list[str]) -> tuple[dict[str, Any], str]:
    """The first message of each of `topics` in the bag's first PEEK_NS, and the damage met reading them ("": none)."""
    firsts: dict[str, Any] = {}
    if not topics:
        return firsts, ""
    try:
        for message in bag.messages(set(topics), end_ns=bag.start_ns + PEEK_NS):
            if message.topic not in firsts:
                try:
                    firsts[message.topic] = bag.deserialize(message.raw, message.msgtype)
                except Exception:  # noqa: BLE001 - a garbled message: the topic's next one tells, as the replay would warn
                    continue
                if len(firsts) == len(topics):
                    break
    except BagError as err:
        return firsts, str(err)
    return firsts, ""


def _becomes(config: BridgeConfig, route: Route | NotBridged | str, first: Any) -> list[str]:
    """The lines of what the topic becomes: its entity, then those its options add; or why it is not bridged."""
    if isinstance(route, str):
        return [f"- {route}"]
    if isinstance(route, NotBridged):
        return [f"- not bridged ({route.reason})"]
    if not route.carries_images:
        assert route.kind is not None
        return [f"{route.entity_path}: {_ARCHETYPES[route.kind.value]}{', static' if route.static_tf else ''}"]
    image = _image(route, first)
    return [f"{route.entity_path}: {image}", *_added(config, route, image, first)]


def _added(config: BridgeConfig, route: Route, image: _Image, first: Any) -> list[str]:
    """The entities a topic's options add to its own: rectified images, registered depth, a coloured cloud."""
    lines = []
    rectify = route.options.rectify
    if (rectified := route.rectified_entity_path) is not None and rectify is not None:
        own = config.topics.get(route.name)
        if not image.passed_through:
            instead = ", instead of the raw ones (keep_raw: false)" if not rectify.keep_raw else ""
            lines.append(f"{rectified}: {image.archetype}, rectified{instead}")
        elif own is not None and own.rectify:
            lines.append(f"- {VIDEO_NOT_RECTIFIED}")
    register, cloud = route.options.register, route.options.point_cloud
    if (registered := route.registered_entity_path) is not None and register is not None:
        depth = _depth(route, first.encoding if first is not None else None)
        into = published_topic(config, route.namespace, register.to)
        lines.append(f"{registered}: {depth.archetype}, registered into the camera of {into}")
    if (points := route.cloud_entity_path) is not None and cloud is not None:
        colours = published_topic(config, route.namespace, cloud.color_from)
        rate = f", at most {cloud.max_rate:g} a second" if cloud.max_rate else ""
        lines.append(f"{points}: Points3D coloured from {colours} (up to {cloud.max_points} points{rate})")
    return lines


def _image(route: Route, msg: Any) -> _Image:
    """What an image topic becomes, as the bridge decides it for each message (here for the first one)."""
    video = route.options.video.codec if route.options.video is not None else None
    if route.msgtype == IMAGE_TYPE:
        if msg is None:
            if route.configured_as_depth:
                return _depth(route, None)
            colour = _Image("VideoStream", video) if video else _Image("Image")
            if route.configured_as_depth is False:
                return colour
            return _Image(f"{colour} or DepthImage", "by encoding; no message early in the bag")
        size = f"{msg.encoding}, {msg.width}x{msg.height}"
        try:
            lookup_encoding(msg.encoding)
        except ConversionError as err:
            return _Image("not converted", f"{size}: {err}")
        if route.as_depth(msg):
            depth = _depth(route, msg.encoding)
            return _Image(depth.archetype, f"{depth.details}; {size}" if depth.details else size)
        return _Image("VideoStream", f"{video}, encoded from {size}") if video else _Image("Image", size)
    if msg is None:
        if route.msgtype in VIDEO_TYPES:
            return _Image("VideoStream", passed_through=True)
        return _Image("decided by format", "no message early in the bag")
    format_string = msg.encoding if route.msgtype == FFMPEG_PACKET_TYPE else msg.format
    if codec := codec_from_format(format_string):
        return _Image("VideoStream", codec.value, passed_through=True)
    if route.msgtype in VIDEO_TYPES:
        return _Image("VideoStream", f"but its format {format_string!r} is not one Rerun plays (h264, h265, av1)", True)
    if route.as_depth(msg):
        return _Image("EncodedDepthImage / DepthImage", format_string)
    return _Image("VideoStream", f"{video}, encoded from {format_string}") if video else _Image("EncodedImage", format_string)


def _depth(route: Route, encoding: str | None) -> _Image:
    """What a raw Image depth topic's frames (and their registered depth) become: 16-bit depth with
    `depth_compression` losslessly encoded, other depth as it is. `encoding`: None when not known."""
    codec = _DEPTH_CODECS.get(route.options.depth_compression)  # type: ignore[arg-type]
    if codec is None:
        return _Image("DepthImage")
    try:
        bits16 = encoding is not None and lookup_encoding(encoding).dtype == np.uint16
    except ConversionError:
        encoding = None  # said on the topic's own line
    if encoding is None:
        return _Image(f"EncodedDepthImage ({codec}) for 16-bit depth, else DepthImage")
    return _Image("EncodedDepthImage", codec) if bits16 else _Image("DepthImage", "raw: only 16-bit depth is compressed")


def _continued(rows: list[tuple[str, str, str, str]]) -> list[tuple[str, str, str, str]]:
    """The rows with a topic's further lines under its first, their other columns blank."""
    shown, previous = [], None
    for row in rows:
        shown.append(row if row[0] != previous else ("", "", "", row[3]))
        previous = row[0]
    return shown


def _aligned(rows: list[tuple[str, ...]]) -> list[str]:
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]) - 1)]
    return ["  " + "  ".join(cell.ljust(width) for cell, width in zip(row, widths)) + "  " + row[-1] for row in rows]
