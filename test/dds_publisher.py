"""A stand-in for a ROS 2 camera driver and tf broadcasters, for test_live_dds.py.

Publishes over DDS as a ROS 2 node does (topic `rt/<topic>`, rosidl type names, CDR, the
type hash in USER_DATA), with the message types written out as rosidl's IDL declares them,
independently of the bridge's generated ones: a reader whose types were wrong would not match.
Payloads are serialized with rosbags and written as bytes.

    CYCLONEDDS_URI=... ROS_DOMAIN_ID=... python dds_publisher.py --seconds 3 --expect /camera/color/image_raw

`--namespace /robot1` publishes every topic under it, as a robot of a fleet does (`/robot1/tf` too);
`--expect` still names the topics without it.

`/tf_static` is published once at start (latched, before any reader exists); then, once every
`--expect` topic has a reader, the cameras and `/tf` stream, each frame stamped with the time it
is sent and its content derived from that stamp (the `*_for` functions), so that a test can
check every frame that reached a recording. The stamps sent are printed as JSON at the end.
"""

import argparse
import json
import os
import sys
import time
from dataclasses import dataclass

import cv2
import numpy as np
from cyclonedds._clayer import ddspy_write  # writes serialized bytes as they are
from cyclonedds.core import Policy, Qos
from cyclonedds.domain import DomainParticipant
from cyclonedds.idl import IdlStruct, types
from cyclonedds.pub import DataWriter
from cyclonedds.topic import Topic
from recordings import TYPESTORE, camera_info_msg, compressed_msg, image_msg, tf_msg

WIDTH, HEIGHT = 320, 240
COLOR, DEPTH = "/camera/color/image_raw", "/camera/depth/image_rect_raw"
COMPRESSED, CAMERA_INFO = "/camera/color/image_raw/compressed", "/camera/color/camera_info"
IGNORED = "/camera/ignored/image_raw"
TF, TF_STATIC = "/tf", "/tf_static"
IMAGE, TF_MESSAGE = "sensor_msgs/msg/Image", "tf2_msgs/msg/TFMessage"
STREAMED = {COLOR: IMAGE, DEPTH: IMAGE, COMPRESSED: "sensor_msgs/msg/CompressedImage",
            CAMERA_INFO: "sensor_msgs/msg/CameraInfo", IGNORED: IMAGE, TF: TF_MESSAGE}  # fmt: skip
STATIC_TRANSFORMS = [("base_link", "camera_link", (0.1, 0.0, 0.5), (0.0, 0.0, 0.0, 1.0)),
                     ("camera_link", "camera_optical_frame", (0.0, 0.0, 0.0), (-0.5, 0.5, -0.5, 0.5))]  # fmt: skip


# -- the message types, as rosidl_generator_dds_idl writes them --------------------------------
# (no `from __future__ import annotations` here: cyclonedds resolves field types from the annotations)


@dataclass
class Time(IdlStruct, typename="builtin_interfaces::msg::dds_::Time_"):
    sec: types.int32
    nanosec: types.uint32


@dataclass
class Header(IdlStruct, typename="std_msgs::msg::dds_::Header_"):
    stamp: Time
    frame_id: str


@dataclass
class Image(IdlStruct, typename="sensor_msgs::msg::dds_::Image_"):
    header: Header
    height: types.uint32
    width: types.uint32
    encoding: str
    is_bigendian: types.uint8
    step: types.uint32
    data: types.sequence[types.uint8]


@dataclass
class CompressedImage(IdlStruct, typename="sensor_msgs::msg::dds_::CompressedImage_"):
    header: Header
    format: str
    data: types.sequence[types.uint8]


@dataclass
class RegionOfInterest(IdlStruct, typename="sensor_msgs::msg::dds_::RegionOfInterest_"):
    x_offset: types.uint32
    y_offset: types.uint32
    height: types.uint32
    width: types.uint32
    do_rectify: bool


@dataclass
class CameraInfo(IdlStruct, typename="sensor_msgs::msg::dds_::CameraInfo_"):
    header: Header
    height: types.uint32
    width: types.uint32
    distortion_model: str
    d: types.sequence[types.float64]
    k: types.array[types.float64, 9]
    r: types.array[types.float64, 9]
    p: types.array[types.float64, 12]
    binning_x: types.uint32
    binning_y: types.uint32
    roi: RegionOfInterest


@dataclass
class Vector3(IdlStruct, typename="geometry_msgs::msg::dds_::Vector3_"):
    x: types.float64
    y: types.float64
    z: types.float64


@dataclass
class Quaternion(IdlStruct, typename="geometry_msgs::msg::dds_::Quaternion_"):
    x: types.float64
    y: types.float64
    z: types.float64
    w: types.float64


@dataclass
class Transform(IdlStruct, typename="geometry_msgs::msg::dds_::Transform_"):
    translation: Vector3
    rotation: Quaternion


@dataclass
class TransformStamped(IdlStruct, typename="geometry_msgs::msg::dds_::TransformStamped_"):
    header: Header
    child_frame_id: str
    transform: Transform


@dataclass
class TFMessage(IdlStruct, typename="tf2_msgs::msg::dds_::TFMessage_"):
    transforms: types.sequence[TransformStamped]


IDL_TYPES = {"sensor_msgs/msg/Image": Image, "sensor_msgs/msg/CompressedImage": CompressedImage,
             "sensor_msgs/msg/CameraInfo": CameraInfo, "tf2_msgs/msg/TFMessage": TFMessage}  # fmt: skip


# -- frame content, derived from the stamp -----------------------------------------------------


def color_for(stamp_ns: int) -> np.ndarray:
    return np.random.default_rng(stamp_ns).integers(0, 256, (HEIGHT, WIDTH, 3), np.uint8)


def smooth_color_for(stamp_ns: int) -> np.ndarray:
    """A gradient scrolling with the stamp (in ms) and a bright square crossing it: a scene video codecs keep
    close to the source, unlike `color_for`'s noise. No sharp colour edge falls inside a 2x2 block, which
    4:2:0 chroma (one colour per 2x2 pixels) would blur whatever the codec."""
    shift = stamp_ns // 10**6
    y, x = np.mgrid[:HEIGHT, :WIDTH]
    red = np.abs((x + shift) % (2 * WIDTH) - WIDTH) * 255 // WIDTH  # a triangle wave: no jump where it wraps
    rgb = np.stack([red, y * 255 // HEIGHT, np.full_like(x, 128)], -1).astype(np.uint8)
    left = shift // 2 * 2 % (WIDTH - 40)
    rgb[100:140, left : left + 40] = 255
    return rgb


SCENES = {"noise": color_for, "smooth": smooth_color_for}  # what the raw colour topic shows


def depth_for(stamp_ns: int) -> np.ndarray:
    return np.random.default_rng(stamp_ns + 1).integers(0, 10_000, (HEIGHT, WIDTH), np.uint16)


def jpeg_for(stamp_ns: int) -> bytes:
    return cv2.imencode(".jpg", color_for(stamp_ns))[1].tobytes()


def focal_length_for(stamp_ns: int) -> float:
    return 300.0 + stamp_ns % 1000


def translation_for(stamp_ns: int) -> tuple[float, float, float]:
    return (stamp_ns % 1_000_000 / 1e6, 0.0, 1.0)


def messages_for(stamp_ns: int, scene: str = "noise") -> dict[str, object]:
    f = focal_length_for(stamp_ns)
    return {
        COLOR: image_msg(SCENES[scene](stamp_ns), "rgb8", stamp_ns),
        DEPTH: image_msg(depth_for(stamp_ns), "16UC1", stamp_ns),
        COMPRESSED: compressed_msg(jpeg_for(stamp_ns), "jpeg", stamp_ns),
        CAMERA_INFO: camera_info_msg([f, 0, WIDTH / 2, 0, f, HEIGHT / 2, 0, 0, 1], WIDTH, HEIGHT, stamp_ns),
        IGNORED: image_msg(color_for(stamp_ns)[:8, :8], "rgb8", stamp_ns),
        TF: tf_msg([("odom", "base_link", translation_for(stamp_ns), (0.0, 0.0, 0.0, 1.0))], stamp_ns),
    }


# -- DDS ---------------------------------------------------------------------------------------

RELIABLE = Policy.Reliability.Reliable(1_000_000_000)
DEFAULT = [RELIABLE, Policy.History.KeepLast(10)]  # rclpy's default publisher QoS
SENSOR_DATA = [Policy.Reliability.BestEffort, Policy.History.KeepLast(5)]
TF_BROADCASTER = [RELIABLE, Policy.History.KeepLast(100)]
LATCHED = [RELIABLE, Policy.Durability.TransientLocal, Policy.History.KeepLast(1)]
WRITER_QOS = {COLOR: DEFAULT, DEPTH: DEFAULT, COMPRESSED: SENSOR_DATA, CAMERA_INFO: DEFAULT, IGNORED: SENSOR_DATA,
              TF: TF_BROADCASTER, TF_STATIC: LATCHED}  # fmt: skip


class RawWriter:
    """A DDS writer for one ROS topic that sends rosbags-serialized messages."""

    def __init__(self, participant: DomainParticipant, topic: str, msgtype: str, namespace: str = ""):
        user_data = Policy.Userdata(f"typehash={TYPESTORE.hash_rihs01(msgtype)};".encode())
        dds_topic = Topic(participant, "rt" + namespace + topic, IDL_TYPES[msgtype])
        self.writer = DataWriter(participant, dds_topic, qos=Qos(*WRITER_QOS[topic], user_data))

    def write(self, msg: object) -> None:
        ddspy_write(self.writer._ref, bytes(TYPESTORE.serialize_cdr(msg, msg.__msgtype__)))

    def matched(self) -> bool:
        return self.writer.get_publication_matched_status().current_count > 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--rate", type=float, default=30.0)
    parser.add_argument("--scene", choices=SCENES, default="noise", help=f"what {COLOR} shows")
    parser.add_argument("--expect", action="append", default=[], metavar="TOPIC", help="wait for a reader of TOPIC")
    parser.add_argument("--namespace", default="", metavar="NS", help="publish every topic under NS (/robot1)")
    args = parser.parse_args()

    participant = DomainParticipant(int(os.environ["ROS_DOMAIN_ID"]))  # cyclonedds itself does not read it
    static = RawWriter(participant, TF_STATIC, TF_MESSAGE, args.namespace)
    static.write(tf_msg(STATIC_TRANSFORMS, time.time_ns()))
    writers = {topic: RawWriter(participant, topic, msgtype, args.namespace) for topic, msgtype in STREAMED.items()}

    deadline = time.monotonic() + 15
    while not all(writers[topic].matched() for topic in args.expect):
        if time.monotonic() > deadline:
            print(f"no reader for {[t for t in args.expect if not writers[t].matched()]}", file=sys.stderr)
            return 1
        time.sleep(0.05)
    time.sleep(0.3)  # the readers' side of the match completes too

    stamps = []
    began = time.monotonic()
    for frame in range(int(args.seconds * args.rate)):
        time.sleep(max(0.0, began + frame / args.rate - time.monotonic()))
        stamp_ns = time.time_ns()
        for topic, msg in messages_for(stamp_ns, args.scene).items():
            writers[topic].write(msg)
        stamps.append(stamp_ns)
    time.sleep(0.2)  # best-effort samples in flight arrive before the writers go
    print(json.dumps({"stamps": stamps}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
