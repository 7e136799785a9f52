"""`TfBuffer` (bridge.streams.tf_buffer): chains, interpolation, static and dynamic transforms, tf2's limits."""

from __future__ import annotations

import functools
import math

import numpy as np
import pytest

from bridge.conversion.namespaces import prefixed_frame
from bridge.streams.tf_buffer import TfBuffer, TfError
from recordings import tf_msg

S = 1_000_000_000


def about_z(angle: float) -> tuple[float, float, float, float]:
    return (0.0, 0.0, math.sin(angle / 2), math.cos(angle / 2))


def add(buffer: TfBuffer, parent: str, child: str, t, q=(0, 0, 0, 1), ns: int = 0, static: bool = False) -> None:
    buffer.add(tf_msg([(parent, child, t, q)], ns).transforms, static=static)


def moved(matrix: np.ndarray, point) -> np.ndarray:
    return matrix[:3, :3] @ np.asarray(point, float) + matrix[:3, 3]


def test_chain_through_the_common_ancestor() -> None:
    buffer = TfBuffer()
    add(buffer, "base", "camera", (1, 0, 0), about_z(math.pi / 2), static=True)
    add(buffer, "camera", "depth", (0, 0.1, 0), static=True)
    add(buffer, "camera", "colour", (0, -0.1, 0), static=True)
    # a point at the depth frame's origin is 0.2 m along the colour frame's +y
    np.testing.assert_allclose(moved(buffer.lookup("colour", "depth", 5 * S), (0, 0, 0)), (0, 0.2, 0), atol=1e-12)
    # and in base: the camera is turned 90 degrees about z, 1 m along x
    np.testing.assert_allclose(moved(buffer.lookup("base", "depth", 0), (0, 0, 0)), (1 - 0.1, 0, 0), atol=1e-12)
    np.testing.assert_allclose(moved(buffer.lookup("depth", "base", 0), (0.9, 0, 0)), (0, 0, 0), atol=1e-12)
    np.testing.assert_allclose(buffer.lookup("depth", "depth", 0), np.eye(4))


def test_frames_are_kept_as_the_bridge_names_them() -> None:
    """Two robots of a fleet with the same frame names: each robot's frames prefixed as they are logged, and the
    map they share left as it is, so that each robot's cameras are looked up through its own transforms."""
    buffer = TfBuffer()
    for robot, baseline in (("robot1", 0.05), ("robot2", 0.12)):
        frame = functools.partial(prefixed_frame, f"{robot}/", shared={"map"})
        transforms = [("map", "camera", (0, 0, 0), (0, 0, 0, 1)), ("camera", "depth", (0, 0, 0), (0, 0, 0, 1)),
                      ("camera", "colour", (baseline, 0, 0), (0, 0, 0, 1))]  # fmt: skip
        buffer.add(tf_msg(transforms).transforms, static=True, frame=frame)
    np.testing.assert_allclose(moved(buffer.lookup("robot1/colour", "robot1/depth", 0), (0, 0, 0)), (-0.05, 0, 0))
    np.testing.assert_allclose(moved(buffer.lookup("robot2/colour", "robot2/depth", 0), (0, 0, 0)), (-0.12, 0, 0))
    with pytest.raises(TfError, match="not connected"):
        buffer.lookup("colour", "depth", 0)  # no robot's


def test_interpolates_translation_linearly_and_rotation_by_slerp() -> None:
    buffer = TfBuffer()
    add(buffer, "odom", "base", (0, 0, 0), about_z(0.0), ns=1 * S)
    add(buffer, "odom", "base", (2, 0, 0), about_z(math.pi / 2), ns=2 * S)
    matrix = buffer.lookup("odom", "base", 1 * S + S // 4)
    np.testing.assert_allclose(matrix[:3, 3], (0.5, 0, 0), atol=1e-12)
    angle = math.atan2(matrix[1, 0], matrix[0, 0])
    assert angle == pytest.approx(math.pi / 8)  # a quarter of the way round: slerp's constant angular speed


def test_slerp_takes_the_shorter_arc() -> None:
    buffer = TfBuffer()
    add(buffer, "odom", "base", (0, 0, 0), about_z(math.radians(170)), ns=0)
    q = about_z(math.radians(-170))
    add(buffer, "odom", "base", (0, 0, 0), tuple(-v for v in q), ns=2 * S)  # -q: the same rotation
    matrix = buffer.lookup("odom", "base", S)
    assert abs(math.degrees(math.atan2(matrix[1, 0], matrix[0, 0]))) == pytest.approx(180)  # through 180, not 0


def test_static_and_dynamic_links_mix() -> None:
    buffer = TfBuffer()
    add(buffer, "map", "odom", (10, 0, 0), static=True)
    add(buffer, "odom", "base", (0, 0, 0), ns=0)
    add(buffer, "odom", "base", (0, 4, 0), ns=4 * S)
    add(buffer, "base", "camera", (0, 0, 1), static=True)
    np.testing.assert_allclose(moved(buffer.lookup("map", "camera", 1 * S), (0, 0, 0)), (10, 1, 1), atol=1e-12)


def test_outside_the_history_holds_within_the_tolerance_and_fails_beyond() -> None:
    buffer = TfBuffer(tolerance_ns=S // 10)
    add(buffer, "odom", "base", (0, 0, 0), ns=1 * S)
    add(buffer, "odom", "base", (1, 0, 0), ns=2 * S)
    np.testing.assert_allclose(buffer.lookup("odom", "base", 2 * S + S // 20)[:3, 3], (1, 0, 0))  # the newest, held
    np.testing.assert_allclose(buffer.lookup("odom", "base", 1 * S - S // 20)[:3, 3], (0, 0, 0))
    with pytest.raises(TfError, match="after its history"):
        buffer.lookup("odom", "base", 3 * S)
    with pytest.raises(TfError, match="before its history"):
        buffer.lookup("odom", "base", 0)


def test_history_is_bounded_and_out_of_order_samples_sort() -> None:
    buffer = TfBuffer(cache_ns=10 * S, tolerance_ns=0)
    for second in (3, 1, 2):  # out of order
        add(buffer, "odom", "base", (second, 0, 0), ns=second * S)
    assert buffer.lookup("odom", "base", S + S // 2)[0, 3] == pytest.approx(1.5)
    add(buffer, "odom", "base", (30, 0, 0), ns=30 * S)  # 10 s cache: everything before 20 s goes
    with pytest.raises(TfError):
        buffer.lookup("odom", "base", 3 * S)
    add(buffer, "odom", "base", (99, 0, 0), ns=30 * S)  # a repeated stamp is ignored, as tf2 does
    assert buffer.lookup("odom", "base", 30 * S)[0, 3] == 30


def test_unconnected_frames_and_unknown_frames_fail() -> None:
    buffer = TfBuffer()
    add(buffer, "a", "b", (0, 0, 0), static=True)
    add(buffer, "c", "d", (0, 0, 0), static=True)
    with pytest.raises(TfError, match="not connected"):
        buffer.lookup("b", "d", 0)
    with pytest.raises(TfError, match="not connected"):
        buffer.lookup("b", "nowhere", 0)


def test_a_link_above_the_common_ancestor_need_not_resolve() -> None:
    """tf2 stops each walk at the first link it cannot resolve: a stale map -> odom does not stop a lookup below it."""
    buffer = TfBuffer(tolerance_ns=0)
    add(buffer, "map", "odom", (0, 0, 0), ns=0)
    add(buffer, "odom", "camera", (0, 0, 0), static=True)
    add(buffer, "camera", "depth", (0, 0, 0.5), static=True)
    add(buffer, "camera", "colour", (0, 0, 0), static=True)
    np.testing.assert_allclose(buffer.lookup("colour", "depth", 60 * S)[:3, 3], (0, 0, 0.5))
    with pytest.raises(TfError, match="after its history"):
        buffer.lookup("map", "depth", 60 * S)
