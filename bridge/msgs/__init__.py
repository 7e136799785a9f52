"""Definitions of the video message types ROS 2 distributions do not ship, registered into rosbags typestores.

Bags carry their own definitions; live DDS (which has none on the wire) and bags that lack them
(sqlite3 bags before Iron) decode these with the definitions kept here, as the upstream packages
define them.
"""

from __future__ import annotations

from pathlib import Path

from rosbags.typesys import get_types_from_msg
from rosbags.typesys.store import Typestore

COMPRESSED_VIDEO_TYPE = "foxglove_msgs/msg/CompressedVideo"
FFMPEG_PACKET_TYPE = "ffmpeg_image_transport_msgs/msg/FFMPEGPacket"
_FILES = {COMPRESSED_VIDEO_TYPE: "CompressedVideo.msg", FFMPEG_PACKET_TYPE: "FFMPEGPacket.msg"}


def register_video_types(typestore: Typestore) -> Typestore:
    """Add the video message types to `typestore` (where it lacks them) and return it."""
    types = {}
    for msgtype, file in _FILES.items():
        if msgtype not in typestore.fielddefs:
            types.update(get_types_from_msg((Path(__file__).with_name(file)).read_text(encoding="utf-8"), msgtype))
    if types:
        typestore.register(types)
    return typestore
