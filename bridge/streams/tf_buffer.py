"""`TfBuffer`: the transforms the bridge has seen on /tf and /tf_static, for looking up one frame from another.

Rerun places everything itself from the logged Transform3D rows; the bridge needs transforms of its own only
where it computes geometry (depth registration, coloured clouds: the colour camera seen from the depth camera
at the depth frame's stamp). This is a small tf2 `BufferCore`, with tf2's semantics:

- Per child frame, a time-ordered history of its transform to its parent, kept for `cache_ns` behind the newest
  sample (tf2's default cache time, 10 s); a sample with a stamp already held is ignored, as tf2 does. Static
  transforms are kept for ever and hold at every time.
- `lookup(target, source, stamp_ns)` walks both frames up their parents to their common ancestor and composes
  the links, each at `stamp_ns`: translation interpolated linearly and rotation by slerp between the two samples
  around the stamp (tf2's `TimeCache::interpolate`; samples of different parents: the earlier one).
- Outside a frame's history tf2 refuses to extrapolate. A depth frame is often stamped a little after the newest
  /tf sample that has arrived (TF and images come in over different topics); rather than wait for the next one,
  a stamp within `tolerance_ns` of either end of the history takes that end's sample as it is (never
  extrapolated). Further out the lookup fails with `TfError`, which the caller counts.

The bridge rejects transforms that would close a loop before they reach this buffer; the walks still stop at a
frame seen twice, so that a bad history can never hang a lookup.
"""

from __future__ import annotations

import bisect
import threading
from dataclasses import dataclass
from typing import Any, Callable, Iterable

import numpy as np

from ..conversion.transforms import stamp_ns

CACHE_NS = 10_000_000_000  # tf2's default cache time
TOLERANCE_NS = 100_000_000  # a stamp this far past either end of a frame's history takes that end's sample


class TfError(LookupError):
    """No transform between two frames at a time; the text says why (as tf2's exceptions do)."""


@dataclass(frozen=True)
class _Sample:
    stamp: int
    parent: str
    translation: np.ndarray  # (3,)
    rotation: np.ndarray  # (4,) unit quaternion x, y, z, w


class TfBuffer:
    """Transforms by child frame; thread-safe (TF arrives on one thread, lookups come from others)."""

    def __init__(self, cache_ns: int = CACHE_NS, tolerance_ns: int = TOLERANCE_NS):
        self.cache_ns = cache_ns
        self.tolerance_ns = tolerance_ns
        self._static: dict[str, _Sample] = {}
        self._dynamic: dict[str, list[_Sample]] = {}  # child frame -> samples by stamp
        self._lock = threading.Lock()

    def add(self, transforms: Iterable[Any], static: bool, frame: Callable[[str], str] = str) -> None:
        """Keep geometry_msgs/TransformStamped messages (already checked by `transform_problem`).

        `frame` names both frames as they are logged (in a fleet, with the robot's prefix), so that lookups name
        them as the images do and two robots' `camera_link`s stay apart."""
        with self._lock:
            for transform in transforms:
                sample = _sample(transform, frame(transform.header.frame_id))
                child = frame(transform.child_frame_id)
                if static:
                    self._static[child] = sample
                    self._dynamic.pop(child, None)  # tf2: a frame is static or dynamic, the latest says which
                else:
                    self._static.pop(child, None)
                    self._insert(self._dynamic.setdefault(child, []), sample)

    def _insert(self, history: list[_Sample], sample: _Sample) -> None:
        stamps = [s.stamp for s in history]
        index = bisect.bisect_left(stamps, sample.stamp)
        if index < len(history) and history[index].stamp == sample.stamp:
            return
        history.insert(index, sample)
        oldest_kept = history[-1].stamp - self.cache_ns
        while history[0].stamp < oldest_kept:
            del history[0]

    def lookup(self, target: str, source: str, stamp: int) -> np.ndarray:
        """The 4x4 transform taking points in `source` coordinates into `target` coordinates at `stamp` (ns)."""
        if target == source:
            return np.eye(4)
        with self._lock:
            from_source, source_problem = self._to_ancestors(source, stamp, stop=target)
            if target in from_source:
                return from_source[target]
            from_target, target_problem = self._to_ancestors(target, stamp, stop=None, meet=from_source)
        common = next((frame for frame in from_target if frame in from_source), None)
        if common is None:
            problem = source_problem or target_problem
            raise TfError(problem or f"frames {source!r} and {target!r} are not connected (no common ancestor)")
        return np.linalg.inv(from_target[common]) @ from_source[common]

    def _to_ancestors(self, frame: str, stamp: int, stop: str | None,
                      meet: dict[str, np.ndarray] | None = None) -> tuple[dict[str, np.ndarray], str | None]:  # fmt: skip
        """{ancestor: ancestor_from_frame} up to the root, `stop` or a frame of `meet`, and why the walk ended
        early (a link with no sample at `stamp`), as tf2's walk stops at the first link it cannot resolve."""
        chain = {frame: np.eye(4)}
        current, matrix = frame, np.eye(4)
        while current != stop and (meet is None or current not in meet):
            try:
                sample = self._at(current, stamp)
            except TfError as err:
                return chain, str(err)
            if sample is None or sample.parent in chain:  # the root (or a loop, which the bridge prevents)
                break
            matrix = _matrix(sample.translation, sample.rotation) @ matrix
            current = sample.parent
            chain[current] = matrix
        return chain, None

    def _at(self, child: str, stamp: int) -> _Sample | None:
        """The transform of `child` to its parent at `stamp`; None for a frame without one (a root)."""
        if child in self._static:
            return self._static[child]
        history = self._dynamic.get(child)
        if not history:
            return None
        first, last = history[0], history[-1]
        if stamp <= first.stamp:
            if first.stamp - stamp <= self.tolerance_ns:
                return first
            raise TfError(_extrapolation(child, first, last, stamp, "before"))
        if stamp >= last.stamp:
            if stamp - last.stamp <= self.tolerance_ns:
                return last
            raise TfError(_extrapolation(child, first, last, stamp, "after"))
        index = bisect.bisect_left([s.stamp for s in history], stamp)
        before, after = history[index - 1], history[index]
        if after.stamp == stamp:
            return after
        if before.parent != after.parent:
            return before
        ratio = (stamp - before.stamp) / (after.stamp - before.stamp)
        translation = before.translation + ratio * (after.translation - before.translation)
        return _Sample(stamp, before.parent, translation, slerp(before.rotation, after.rotation, ratio))


def _sample(transform: Any, parent: str) -> _Sample:
    t, q = transform.transform.translation, transform.transform.rotation
    rotation = np.array([q.x, q.y, q.z, q.w], np.float64)
    return _Sample(stamp_ns(transform.header.stamp), parent, np.array([t.x, t.y, t.z], np.float64),
                   rotation / np.linalg.norm(rotation))  # fmt: skip


def _extrapolation(child: str, first: _Sample, last: _Sample, stamp: int, side: str) -> str:
    return (f"no transform {first.parent} -> {child} at {stamp / 1e9:.3f} s: {side} its history "
            f"({first.stamp / 1e9:.3f} to {last.stamp / 1e9:.3f} s), and tf2 does not extrapolate")  # fmt: skip


def slerp(q0: np.ndarray, q1: np.ndarray, ratio: float) -> np.ndarray:
    """Spherical linear interpolation of unit quaternions (x, y, z, w) along the shorter arc, as tf2's `slerp`."""
    dot = float(np.dot(q0, q1))
    if dot < 0:  # q and -q are one rotation: take the shorter way round
        q1, dot = -q1, -dot
    if dot > 0.9995:  # nearly the same rotation: linear, renormalised (sin(angle) would vanish)
        q = q0 + ratio * (q1 - q0)
        return q / np.linalg.norm(q)
    angle = np.arccos(dot)
    return (np.sin((1 - ratio) * angle) * q0 + np.sin(ratio * angle) * q1) / np.sin(angle)


def _matrix(translation: np.ndarray, rotation: np.ndarray) -> np.ndarray:
    """parent_from_child, 4x4, from a translation and a unit quaternion (x, y, z, w)."""
    x, y, z, w = rotation
    matrix = np.eye(4)
    matrix[:3, :3] = [
        [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
        [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
        [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
    ]
    matrix[:3, 3] = translation
    return matrix
