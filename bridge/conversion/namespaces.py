"""Fleets: the naming rules that let several robots with the same topics and frame names share one recording.

ROS runs each robot of a fleet in a namespace: its topics are `/robot1/camera/color/image_raw` and,
remapped, `/robot1/tf`, while the frame names inside are those of every other robot (`base_link`,
`camera_link`). tf2 has no `tf_prefix` any more and Rerun's frame names are global, so the bridge
gives each robot's entities and frames its namespace: `/robot1/camera/color/image_raw` stays the
entity path, and `camera_link` becomes `robot1/camera_link` (as `tf_prefix` used to make it).

The config names one robot's topics without a namespace; these functions map between the two.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Collection, Iterable

# A ROS name's tokens (rcl's rules): a letter or underscore first, then letters, digits, underscores.
_TOKEN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True)
class NamespacedTopic:
    namespace: str  # "/robot1"; "" for a topic outside every namespace (no fleet, or a global /tf)
    name: str  # the topic as the config names it: "/camera/color/image_raw"


def namespace(text: str) -> str:
    """`robot1`, `/robot1` or `/robot1/` as `/robot1`; ValueError for what is not a ROS namespace (or is the root)."""
    tokens = text.strip("/").split("/")
    if not all(_TOKEN.fullmatch(token) for token in tokens) or "//" in text:
        raise ValueError("not a ROS namespace (one like /robot1 or /fleet/robot_2)")
    return "/" + "/".join(tokens)


def split_topic(topic: str, namespaces: Iterable[str]) -> NamespacedTopic | None:
    """The namespace a topic is in (the longest that holds it) and its name within it; None when it is in none."""
    holding = [ns for ns in namespaces if topic.startswith(ns + "/")]
    if not holding:
        return None
    ns = max(holding, key=len)
    return NamespacedTopic(ns, topic[len(ns):])


def full_topic(ns: str, name: str) -> str:
    """A configured topic's name in namespace `ns` ("" for none): what is subscribed to or read from a bag."""
    return ns + name


def entity_path(ns: str, path: str) -> str:
    """An entity path under the robot's namespace: `/robot1` + `/camera/color/image_raw`."""
    return ns + "/" + path.lstrip("/") if ns else path


def frame_prefix(ns: str) -> str:
    """What the robot's frame names are prefixed with: `robot1/` for `/robot1`, as tf_prefix was written."""
    return ns.lstrip("/") + "/" if ns else ""


def prefixed_frame(prefix: str, frame: str, shared: Collection[str] = ()) -> str:
    """`camera_link` as `robot1/camera_link`; an empty frame stays empty (it names no frame to place), and so do
    the frames every robot shares (`map`, which each robot's localisation publishes its `odom` in)."""
    return prefix + frame.lstrip("/") if prefix and frame and frame.lstrip("/") not in shared else frame


def robot_view_name(ns: str, name: str) -> str:
    """A 2D view's title: the robot first, so that two robots' identical cameras are told apart."""
    return f"{ns.lstrip('/')}: {name}" if ns else name
