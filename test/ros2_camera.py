"""A ROS 2 camera driver and tf broadcasters in rclpy, publishing as a real robot does, for test_ros2.py.

Runs in any Python with rclpy and sensor_msgs (the ROS 2 wheels of Jazzy or Kilted; nothing of
this project's), on whatever RMW ROS 2 picks (Fast DDS from the wheels).

    FASTDDS_DEFAULT_PROFILES_FILE=test/ros2/fastdds_loopback.xml ROS_DOMAIN_ID=42 \
        python test/ros2_camera.py --seconds 3 --expect /camera/color/image_raw

`/tf_static` is published transient-local at once, before any subscriber exists (as
robot_state_publisher does). Once every `--expect` topic has a subscriber, the cameras and `/tf`
stream, each frame stamped with the wall-clock time it is sent and its content derived from that
stamp (the `*_for` functions, NumPy only), so that a test can check every frame that reached a
recording. The stamps sent are printed as JSON at the end.

Topic names are relative, as drivers' are: `--ros-args -r __ns:=/robot1` puts the camera and its TF
in a robot's namespace (`/robot1/camera/color/image_raw`, `/robot1/tf`); `--expect` names them without it.
"""

import argparse
import array
import functools
import json
import sys
import time
from pathlib import Path

import numpy as np

COLOR, DEPTH = "/camera/color/image_raw", "/camera/depth/image_rect_raw"
COMPRESSED = "/camera/color/image_raw/compressed"
COLOR_INFO, DEPTH_INFO = "/camera/color/camera_info", "/camera/depth/camera_info"
TF, TF_STATIC = "/tf", "/tf_static"
LATCHED = "latched /tf_static"
COLOR_FRAME, DEPTH_FRAME = "camera_color_optical_frame", "camera_depth_optical_frame"
DEPTH_SHAPE = (480, 640)
DEPTH_BINNING = 2  # the depth camera's calibration is at twice the published resolution
STATIC_TRANSFORMS = [
    ("base_link", "camera_link", (0.1, 0.0, 0.5), (0.0, 0.0, 0.0, 1.0)),
    ("camera_link", COLOR_FRAME, (0.0, 0.0, 0.0), (-0.5, 0.5, -0.5, 0.5)),
    ("camera_link", DEPTH_FRAME, (0.0, -0.05, 0.0), (-0.5, 0.5, -0.5, 0.5)),
]


# -- frame content, derived from the stamp (shifted copies of one random image: cheap at 720p) ----


def color_for(stamp_ns: int, shape: tuple[int, int]) -> np.ndarray:
    return np.roll(_noise((*shape, 3), np.uint8, 256), stamp_ns % shape[1], axis=1)


def depth_for(stamp_ns: int) -> np.ndarray:
    return np.roll(_noise(DEPTH_SHAPE, np.uint16, 10_000), stamp_ns % DEPTH_SHAPE[1], axis=1)


@functools.lru_cache
def _noise(shape: tuple[int, ...], dtype: type, high: int) -> np.ndarray:
    return np.random.default_rng(len(shape)).integers(0, high, shape, dtype)


def jpeg_for(stamp_ns: int, jpegs: list[bytes]) -> bytes:
    return jpegs[stamp_ns % len(jpegs)]


def focal_length_for(stamp_ns: int) -> float:
    return 600.0 + stamp_ns % 1000


def translation_for(stamp_ns: int) -> tuple[float, float, float]:
    return (stamp_ns % 1_000_000 / 1e6, 0.0, 1.0)


# -- rclpy -----------------------------------------------------------------------------------------


def _split_ros_args(argv: list[str]) -> tuple[list[str], list[str]]:
    """(this script's arguments, `--ros-args ...` and what follows, for rclpy)."""
    at = argv.index("--ros-args") if "--ros-args" in argv else len(argv)
    return argv[:at], argv[at:]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--rate", type=float, default=30.0)
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=720)
    parser.add_argument("--jpeg", action="append", default=[], type=Path, help="JPEG files to cycle through")
    parser.add_argument("--expect", action="append", default=[], metavar="TOPIC", help="wait for a subscriber of TOPIC")
    parser.add_argument("--wait", type=float, default=30.0, help="at most this long for the subscribers")
    parser.add_argument("--linger", type=float, default=0.5, help="stay this long after the last frame")
    parser.add_argument("--settle", type=float, default=0.5,
                        help="once every --expect topic has a subscriber, wait this long for the subscribers' side of the "
                             "match before the first frame")  # fmt: skip
    ours, ros_args = _split_ros_args(sys.argv)
    args = parser.parse_args(ours[1:])

    import rclpy
    from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy, qos_profile_sensor_data
    from sensor_msgs.msg import CameraInfo, CompressedImage, Image
    from tf2_msgs.msg import TFMessage

    rclpy.init(args=[sys.argv[0], *ros_args])
    node = rclpy.create_node("test_camera")
    latched = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL)
    static = node.create_publisher(TFMessage, TF_STATIC[1:], latched)  # relative: in the node's namespace
    static.publish(tf_message(TFMessage, STATIC_TRANSFORMS, time.time_ns()))
    print(LATCHED, file=sys.stderr, flush=True)  # what a test waits for before it starts a late subscriber
    publishers = {
        COLOR: node.create_publisher(Image, COLOR[1:], 10),  # rclpy's default: reliable, keep last 10
        DEPTH: node.create_publisher(Image, DEPTH[1:], 10),
        COMPRESSED: node.create_publisher(CompressedImage, COMPRESSED[1:], qos_profile_sensor_data),
        COLOR_INFO: node.create_publisher(CameraInfo, COLOR_INFO[1:], 10),
        DEPTH_INFO: node.create_publisher(CameraInfo, DEPTH_INFO[1:], 10),
        TF: node.create_publisher(TFMessage, TF[1:], 100),
    }
    deadline = time.monotonic() + args.wait
    while missing := [topic for topic in args.expect if publishers[topic].get_subscription_count() == 0]:
        if time.monotonic() > deadline:
            print(f"no subscriber for {missing}", file=sys.stderr)
            return 1
        time.sleep(0.05)
    time.sleep(args.settle)  # the subscribers' side of the match completes too

    jpegs = [path.read_bytes() for path in args.jpeg]
    stamps = []
    began = time.monotonic()
    for frame in range(int(args.seconds * args.rate)):
        time.sleep(max(0.0, began + frame / args.rate - time.monotonic()))
        stamp_ns = time.time_ns()
        f = focal_length_for(stamp_ns)
        color_k = [f, 0.0, args.width / 2, 0.0, f, args.height / 2, 0.0, 0.0, 1.0]
        depth_k = [2 * f, 0.0, DEPTH_SHAPE[1], 0.0, 2 * f, DEPTH_SHAPE[0], 0.0, 0.0, 1.0]
        publishers[COLOR].publish(image(Image, color_for(stamp_ns, (args.height, args.width)), "rgb8", COLOR_FRAME, stamp_ns))
        publishers[DEPTH].publish(image(Image, depth_for(stamp_ns), "16UC1", DEPTH_FRAME, stamp_ns))
        if jpegs:
            publishers[COMPRESSED].publish(compressed(CompressedImage, jpeg_for(stamp_ns, jpegs), COLOR_FRAME, stamp_ns))
        publishers[COLOR_INFO].publish(camera_info(CameraInfo, color_k, (args.height, args.width), 1, COLOR_FRAME, stamp_ns))
        full_depth = (DEPTH_SHAPE[0] * DEPTH_BINNING, DEPTH_SHAPE[1] * DEPTH_BINNING)
        publishers[DEPTH_INFO].publish(camera_info(CameraInfo, depth_k, full_depth, DEPTH_BINNING, DEPTH_FRAME, stamp_ns))
        publishers[TF].publish(tf_message(TFMessage, [("odom", "base_link", translation_for(stamp_ns), (0, 0, 0, 1))], stamp_ns))
        stamps.append(stamp_ns)
    time.sleep(args.linger)  # samples in flight (and reliable ones a reader has yet to ask for) arrive before we go
    print(json.dumps({"stamps": stamps}))
    node.destroy_node()
    rclpy.shutdown()
    return 0


def header(msg, frame_id: str, stamp_ns: int):
    msg.header.stamp.sec, msg.header.stamp.nanosec = divmod(stamp_ns, 1_000_000_000)
    msg.header.frame_id = frame_id
    return msg


def image(cls, pixels: np.ndarray, encoding: str, frame_id: str, stamp_ns: int):
    msg = header(cls(), frame_id, stamp_ns)
    msg.height, msg.width = pixels.shape[:2]
    msg.encoding = encoding
    msg.step = pixels.strides[0]
    msg.data = array.array("B", pixels.tobytes())
    return msg


def compressed(cls, data: bytes, frame_id: str, stamp_ns: int):
    msg = header(cls(), frame_id, stamp_ns)
    msg.format = "jpeg"
    msg.data = array.array("B", data)
    return msg


def camera_info(cls, k: list[float], shape: tuple[int, int], binning: int, frame_id: str, stamp_ns: int):
    msg = header(cls(), frame_id, stamp_ns)
    msg.height, msg.width = shape
    msg.distortion_model = "plumb_bob"
    msg.d = [0.0] * 5
    msg.k = k
    msg.p = k[0:3] + [0.0] + k[3:6] + [0.0] + k[6:9] + [0.0]
    msg.binning_x = msg.binning_y = binning
    return msg


def tf_message(cls, transforms, stamp_ns: int):
    from geometry_msgs.msg import TransformStamped

    msg = cls()
    for parent, child, translation, rotation in transforms:
        transform = header(TransformStamped(), parent, stamp_ns)
        transform.child_frame_id = child
        t, r = transform.transform.translation, transform.transform.rotation
        t.x, t.y, t.z = map(float, translation)
        r.x, r.y, r.z, r.w = map(float, rotation)
        msg.transforms.append(transform)
    return msg


if __name__ == "__main__":
    sys.exit(main())
