"""Pure conversion of ROS 2 camera messages into Rerun archetypes: no I/O, no state.

Every function takes a message object with the attribute names of the ROS 2
message (as produced by `rosbags` or by rclpy) and returns Rerun archetypes,
or raises ConversionError naming what is wrong with the message: never another
exception, and never more memory than a frame of `max_pixels` needs.
"""

from __future__ import annotations

import importlib
from typing import Any

# Imported on first use, so that importing a light module of this package (`options`, `namespaces`: the
# config needs them) does not import rerun-sdk (a second): `convert`'s dispatching process never needs it.
_EXPORTS = {
    "pinhole_from_camera_info": "camera_info",
    "convert_compressed_image": "compressed",
    "ConversionError": "errors",
    "convert_image": "image",
    "DEFAULT_MAX_PIXELS": "options",
    "DepthOptions": "options",
    "Intrinsics": "options",
    "TransformGroups": "transforms",
    "closes_cycle": "transforms",
    "stamp_ns": "transforms",
    "transform_columns": "transforms",
    "transforms_by_stamp": "transforms",
}


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)


__all__ = sorted(_EXPORTS)
