"""`tf2_msgs/TFMessage` to `rr.Transform3D` columns between named frames.

tf2 transforms map child-frame coordinates into the parent frame, which is
Rerun's default relation, so translation and rotation go through as they are.
Like Rerun's MCAP importer, each transform is a row of its own: Rerun's viewer
resolves one transform per row, and drops a row of several ("multiple values
for component Transform3D:parent_frame per row").

A transform that tf2 would refuse, or that Rerun could not use, is set aside
with the reason: an empty frame name, a frame as its own parent, a value that
is not a finite float32 (Rerun stores float32), a quaternion that cannot be
normalised (Rerun normalises every quaternion in float32, and treats one that
fails as an invalid transform). Nearly-unit quaternions go through as they are.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping, Protocol, Sequence

import numpy as np
import rerun as rr


FLOAT32_MAX = float(np.finfo(np.float32).max)


class TransformStampedMsg(Protocol):
    header: Any  # std_msgs/Header: stamp, frame_id
    child_frame_id: str
    transform: Any  # geometry_msgs/Transform: translation (x, y, z), rotation (x, y, z, w)


class TFMessageMsg(Protocol):
    transforms: Sequence[TransformStampedMsg]


@dataclass(frozen=True)
class TransformGroups:
    """A TFMessage's usable transforms by header stamp (ns), and why each of the others was rejected."""

    groups: dict[int, list[TransformStampedMsg]]
    rejected: list[str]  # "transform odom -> base_link: <problem>", one per rejected transform


def stamp_ns(stamp: Any) -> int:
    """`builtin_interfaces/Time` in nanoseconds."""
    return int(stamp.sec) * 1_000_000_000 + int(stamp.nanosec)


def transforms_by_stamp(msg: TFMessageMsg) -> TransformGroups:
    """The message's usable transforms grouped by header stamp, and the reasons the others are not usable."""
    groups: dict[int, list[TransformStampedMsg]] = defaultdict(list)
    rejected = []
    for transform in msg.transforms:
        problem = transform_problem(transform)
        if problem is None:
            groups[stamp_ns(transform.header.stamp)].append(transform)
        else:
            parent, child = _name(transform.header.frame_id), _name(transform.child_frame_id)
            rejected.append(f"transform {parent} -> {child}: {problem}")
    return TransformGroups(dict(groups), rejected)


def transform_problem(transform: TransformStampedMsg) -> str | None:
    """Why tf2 or Rerun could not use this transform; None when it is usable."""
    parent, child = transform.header.frame_id, transform.child_frame_id
    if not parent or not child:
        return "empty frame name"
    if parent == child:
        return "a frame cannot be its own parent"
    t, q = transform.transform.translation, transform.transform.rotation
    translation, rotation = (t.x, t.y, t.z), (q.x, q.y, q.z, q.w)
    if not all(abs(value) <= FLOAT32_MAX for value in translation):  # False for NaN too
        return f"translation {_vector(translation)} is not finite in float32"
    if not all(abs(value) <= FLOAT32_MAX for value in rotation):
        return f"rotation {_vector(rotation)} is not finite in float32"
    as_float32 = np.array(rotation, np.float32)
    with np.errstate(over="ignore"):
        squared_norm = np.dot(as_float32, as_float32)
    if not 0 < squared_norm < np.inf:
        return f"rotation {_vector(rotation)} cannot be normalised in float32"
    return None


def closes_cycle(parents: Mapping[str, str], parent: str, child: str) -> bool:
    """Whether making `parent` the parent of `child` closes a loop in `parents` (child frame -> parent frame).

    It does when `child` is `parent` itself or one of its ancestors. tf2's frames form a tree: its lookups
    fail on a loop.
    """
    seen = set()
    frame: str | None = parent
    while frame is not None and frame not in seen:
        if frame == child:
            return True
        seen.add(frame)
        frame = parents.get(frame)
    return False


def _name(frame: str) -> str:
    return frame or "''"


def _vector(values: tuple[float, ...]) -> str:
    return "(" + ", ".join(str(value) for value in values) + ")"


def transform_columns(transforms: Iterable[TransformStampedMsg], frame: Callable[[str], str] = str) -> rr.ComponentColumnList:
    """Transform3D columns with one row per transform, each from its child frame to its parent.

    `frame` names both frames as they are logged: in a fleet, with the robot's prefix (see `namespaces`).
    """
    transforms = list(transforms)
    return rr.Transform3D.columns(
        translation=[(t.transform.translation.x, t.transform.translation.y, t.transform.translation.z) for t in transforms],
        quaternion=[
            (t.transform.rotation.x, t.transform.rotation.y, t.transform.rotation.z, t.transform.rotation.w)
            for t in transforms
        ],
        parent_frame=[frame(t.header.frame_id) for t in transforms],
        child_frame=[frame(t.child_frame_id) for t in transforms],
    )
