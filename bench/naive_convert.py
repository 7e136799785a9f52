"""The naive baseline: what a first script does, one `rr.log` per message, no batching tricks.

    python -m bench.naive_convert BAG OUT.rrd

Reads every message with `rosbags`' AnyReader, deserializes it, and logs an
`rr.Image`, `rr.DepthImage`, `rr.EncodedImage` or `rr.Pinhole` to a file.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import rerun as rr
from rosbags.highlevel import AnyReader
from rosbags.typesys import Stores, get_typestore


def archetype(msgtype: str, msg: Any) -> Any | None:
    if msgtype == "sensor_msgs/msg/Image":
        if msg.encoding == "16UC1":
            return rr.DepthImage(msg.data.view(np.uint16).reshape(msg.height, msg.width), meter=1000.0)
        return rr.Image(msg.data.reshape(msg.height, msg.width, -1), color_model="RGB")
    if msgtype == "sensor_msgs/msg/CompressedImage":
        return rr.EncodedImage(contents=msg.data.tobytes(), media_type="image/jpeg")
    if msgtype == "sensor_msgs/msg/CameraInfo":
        return rr.Pinhole(image_from_camera=msg.k.reshape(3, 3), resolution=[msg.width, msg.height])
    return None


def convert(bag: Path, output: Path) -> None:
    rr.init("naive_convert")
    rr.save(output)
    with AnyReader([bag], default_typestore=get_typestore(Stores.ROS2_HUMBLE)) as reader:
        for connection, log_time_ns, raw in reader.messages():
            msg = reader.deserialize(raw, connection.msgtype)
            stamp_ns = msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec
            rr.set_time("ros2_timestamp", timestamp=np.datetime64(stamp_ns, "ns"))
            rr.set_time("message_log_time", timestamp=np.datetime64(log_time_ns, "ns"))
            if (logged := archetype(connection.msgtype, msg)) is not None:
                rr.log(connection.topic, logged)
    rr.disconnect()  # flushes the file


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("bag", type=Path)
    parser.add_argument("output", type=Path)
    args = parser.parse_args(argv)
    convert(args.bag, args.output)


if __name__ == "__main__":
    main()
