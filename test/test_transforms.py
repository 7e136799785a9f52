"""`tf2_msgs/TFMessage` through `transforms_by_stamp`: what is usable, and why the rest is not.

tf2 refuses empty frame names and a frame as its own parent; Rerun stores
translations and quaternions as float32 and treats a quaternion that fails to
normalise (in float32) as an invalid transform. Each such transform is set
aside with a reason naming its frames; the others go through untouched.
"""

from __future__ import annotations

import numpy as np
import pytest

from bridge.conversion import TransformGroups, closes_cycle, transform_columns, transforms_by_stamp
from recordings import T, tf_msg

IDENTITY = (0.0, 0.0, 0.0, 1.0)
ORIGIN = (0.0, 0.0, 0.0)
NAN, INF = float("nan"), float("inf")
FLOAT32_MAX = float(np.finfo(np.float32).max)


def test_usable_transforms_are_grouped_by_stamp_in_order():
    first = tf_msg([("map", "odom", ORIGIN, IDENTITY), ("odom", "base_link", (1.0, 2.0, 3.0), IDENTITY)], ns=5)
    second = tf_msg([("base_link", "camera", ORIGIN, IDENTITY)], ns=7)
    msg = T["tf2_msgs/msg/TFMessage"](transforms=[first.transforms[0], second.transforms[0], first.transforms[1]])
    result = transforms_by_stamp(msg)
    assert result.rejected == []
    assert {stamp: [t.child_frame_id for t in group] for stamp, group in result.groups.items()} == {
        5: ["odom", "base_link"],
        7: ["camera"],
    }


def test_empty_message_has_nothing_to_log_or_reject():
    assert transforms_by_stamp(tf_msg([])) == TransformGroups({}, [])


@pytest.mark.parametrize(
    ("parent", "child", "translation", "rotation", "reason"),
    [
        ("", "base_link", ORIGIN, IDENTITY, "transform '' -> base_link: empty frame name"),
        ("odom", "", ORIGIN, IDENTITY, "transform odom -> '': empty frame name"),
        ("", "", ORIGIN, IDENTITY, "transform '' -> '': empty frame name"),
        ("base_link", "base_link", ORIGIN, IDENTITY,
         "transform base_link -> base_link: a frame cannot be its own parent"),
        ("odom", "base_link", (NAN, 0.0, 0.0), IDENTITY,
         "transform odom -> base_link: translation (nan, 0.0, 0.0) is not finite in float32"),
        ("odom", "base_link", (0.0, -INF, 0.0), IDENTITY,
         "transform odom -> base_link: translation (0.0, -inf, 0.0) is not finite in float32"),
        ("odom", "base_link", (0.0, 0.0, 1e308), IDENTITY,
         "transform odom -> base_link: translation (0.0, 0.0, 1e+308) is not finite in float32"),
        ("odom", "base_link", ORIGIN, (0.0, 0.0, 0.0, NAN),
         "transform odom -> base_link: rotation (0.0, 0.0, 0.0, nan) is not finite in float32"),
        ("odom", "base_link", ORIGIN, (INF, 0.0, 0.0, 1.0),
         "transform odom -> base_link: rotation (inf, 0.0, 0.0, 1.0) is not finite in float32"),
        ("odom", "base_link", ORIGIN, (0.0, 0.0, 0.0, 0.0),
         r"transform odom -> base_link: rotation (0.0, 0.0, 0.0, 0.0) cannot be normalised in float32"),
        ("odom", "base_link", ORIGIN, (0.0, 1e-30, 0.0, 0.0),  # its squared norm is 0 in float32
         "transform odom -> base_link: rotation (0.0, 1e-30, 0.0, 0.0) cannot be normalised in float32"),
        ("odom", "base_link", ORIGIN, (0.0, 0.0, 1e30, 1e30),  # its squared norm overflows float32
         "transform odom -> base_link: rotation (0.0, 0.0, 1e+30, 1e+30) cannot be normalised in float32"),
    ],
    ids=["empty_parent", "empty_child", "both_empty", "own_parent", "nan_translation", "inf_translation",
         "huge_translation", "nan_rotation", "inf_rotation", "zero_quaternion", "tiny_quaternion", "huge_quaternion"],
)  # fmt: skip
def test_unusable_transform_is_rejected_and_the_others_kept(parent, child, translation, rotation, reason):
    msg = tf_msg([("map", "odom", ORIGIN, IDENTITY), (parent, child, translation, rotation)], ns=3)
    result = transforms_by_stamp(msg)
    assert result.rejected == [reason]
    assert [t.child_frame_id for t in result.groups[3]] == ["odom"]


def test_every_unusable_transform_has_its_own_reason():
    msg = tf_msg([("a", "a", ORIGIN, IDENTITY), ("", "b", ORIGIN, IDENTITY), ("c", "d", ORIGIN, (0.0,) * 4)])
    result = transforms_by_stamp(msg)
    assert result.groups == {}
    assert [reason.split(":")[0] for reason in result.rejected] == ["transform a -> a", "transform '' -> b",
                                                                    "transform c -> d"]  # fmt: skip


@pytest.mark.parametrize(
    "rotation",
    [(0.0, 0.0, 0.0, 1.0001), (0.0, 0.0, 0.0, 2.0), (0.0, 0.0, 1e-19, 0.0), (0.0, 0.0, 1e19, -1e19)],
    ids=["nearly_unit", "twice_unit", "tiny", "large"],
)  # fmt: skip
def test_normalisable_quaternion_goes_through_as_it_is(rotation):
    """Rerun normalises quaternions itself: any that survives its float32 normalisation is passed on untouched."""
    result = transforms_by_stamp(tf_msg([("odom", "base_link", (1e30, -FLOAT32_MAX, 0.5), rotation)]))
    assert result.rejected == []
    stored = column_values(transform_columns(result.groups[0]), "Transform3D:quaternion")[0]
    np.testing.assert_array_equal(stored, np.float32(rotation))


CHAIN = {"odom": "map", "base_link": "odom", "camera": "base_link"}  # child -> parent


@pytest.mark.parametrize(
    ("parents", "parent", "child", "closes"),
    [
        (CHAIN, "camera", "map", True),  # map would hang below its own descendant
        (CHAIN, "odom", "map", True),
        (CHAIN, "base_link", "odom", True),  # base_link's parent is odom already
        (CHAIN, "map", "map", True),
        ({}, "a", "a", True),
        (CHAIN, "map", "odom", False),  # the edge that is already there
        (CHAIN, "base_link", "lidar", False),  # a new leaf
        (CHAIN, "world", "map", False),  # a new root above the tree
        (CHAIN, "map", "camera", False),  # re-parenting camera higher up
        ({}, "a", "b", False),
        ({"x": "y", "y": "x"}, "x", "z", False),  # a loop already there, not through z: no endless walk
        ({"x": "y", "y": "x"}, "x", "y", True),
    ],
)
def test_closes_cycle(parents, parent, child, closes):
    assert closes_cycle(parents, parent, child) is closes


def column_values(columns, component: str) -> list:
    """The rows of one component column, as Python values (one instance per row)."""
    column = next(c for c in columns if c.component_descriptor().component == component)
    return [row[0] for row in column.as_arrow_array().to_pylist()]
