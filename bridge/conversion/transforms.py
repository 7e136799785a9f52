"""`tf2_msgs/TFMessage` to `rr.Transform3D` batches between named frames.

tf2 transforms map child-frame coordinates into the parent frame, which is
Rerun's default relation, so translation and rotation go through as they are.
Like Rerun's MCAP importer, one row holds many transforms, told apart by
`child_frame`.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any, Iterable, Protocol, Sequence

import rerun as rr


class TransformStampedMsg(Protocol):
    header: Any  # std_msgs/Header: stamp, frame_id
    child_frame_id: str
    transform: Any  # geometry_msgs/Transform: translation (x, y, z), rotation (x, y, z, w)


class TFMessageMsg(Protocol):
    transforms: Sequence[TransformStampedMsg]


def stamp_ns(stamp: Any) -> int:
    """`builtin_interfaces/Time` in nanoseconds."""
    return int(stamp.sec) * 1_000_000_000 + int(stamp.nanosec)


def transforms_by_stamp(msg: TFMessageMsg) -> dict[int, list[TransformStampedMsg]]:
    """The message's usable transforms grouped by header stamp (ns).

    Transforms with an empty frame name are dropped, as tf2 rejects them.
    """
    groups: dict[int, list[TransformStampedMsg]] = defaultdict(list)
    for transform in msg.transforms:
        if transform.header.frame_id and transform.child_frame_id:
            groups[stamp_ns(transform.header.stamp)].append(transform)
    return groups


def transform_batch(transforms: Iterable[TransformStampedMsg]) -> rr.Transform3D:
    """One Transform3D row holding every transform, each from its child frame to its parent."""
    transforms = list(transforms)
    return rr.Transform3D.from_fields(
        translation=[(t.transform.translation.x, t.transform.translation.y, t.transform.translation.z) for t in transforms],
        quaternion=[
            (t.transform.rotation.x, t.transform.rotation.y, t.transform.rotation.z, t.transform.rotation.w)
            for t in transforms
        ],
        parent_frame=[t.header.frame_id for t in transforms],
        child_frame=[t.child_frame_id for t in transforms],
    )
