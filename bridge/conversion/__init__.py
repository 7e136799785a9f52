"""Pure conversion of ROS 2 camera messages into Rerun archetypes: no I/O, no state.

Every function takes a message object with the attribute names of the ROS 2
message (as produced by `rosbags` or by rclpy) and returns Rerun archetypes,
or raises ConversionError naming what is wrong with the message: never another
exception, and never more memory than a frame of `max_pixels` needs.
"""

from .camera_info import pinhole_from_camera_info
from .compressed import convert_compressed_image
from .errors import ConversionError
from .image import convert_image
from .options import DEFAULT_MAX_PIXELS, DepthOptions, Intrinsics
from .transforms import TransformGroups, closes_cycle, stamp_ns, transform_columns, transforms_by_stamp

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "ConversionError",
    "DepthOptions",
    "Intrinsics",
    "TransformGroups",
    "closes_cycle",
    "convert_compressed_image",
    "convert_image",
    "pinhole_from_camera_info",
    "stamp_ns",
    "transform_columns",
    "transforms_by_stamp",
]
