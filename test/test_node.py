"""The ROS 2 node end to end: a second node publishes a camera, the recording holds its pixels.

Needs a ROS 2 installation (Humble or Jazzy); skipped where rclpy is not importable.
The node's rclpy-free decisions are tested in test_node_helpers.py.
"""

from __future__ import annotations

import array
import os
import textwrap
import time

import numpy as np
import pytest

rclpy = pytest.importorskip("rclpy")

from rclpy.executors import SingleThreadedExecutor  # noqa: E402
from rclpy.parameter import Parameter  # noqa: E402
from rclpy.qos import QoSProfile, ReliabilityPolicy  # noqa: E402
from sensor_msgs.msg import CameraInfo, Image  # noqa: E402

from bridge.node import BridgeNode, main  # noqa: E402
from recordings import column, read_recording  # noqa: E402

# Discovery on loopback only, whichever RMW is in use (see the field notes).
CYCLONEDDS_LOOPBACK = (
    '<CycloneDDS><Domain Id="any"><General><Interfaces><NetworkInterface name="lo" multicast="false"/>'
    "</Interfaces><AllowMulticast>false</AllowMulticast></General><Discovery><ParticipantIndex>auto"
    "</ParticipantIndex><MaxAutoParticipantIndex>32</MaxAutoParticipantIndex><Peers><Peer address=\"127.0.0.1\"/>"
    "</Peers></Discovery></Domain></CycloneDDS>"
)
IMAGE_TOPIC = "/test_camera/image_raw"
INFO_TOPIC = "/test_camera/camera_info"
FRAME = "test_camera_optical_frame"
K = [50.0, 0.0, 3.0, 0.0, 50.0, 2.0, 0.0, 0.0, 1.0]
PIXELS = np.arange(4 * 6 * 3, dtype=np.uint8).reshape(4, 6, 3)


@pytest.fixture
def loopback_only(monkeypatch):
    monkeypatch.setenv("CYCLONEDDS_URI", CYCLONEDDS_LOOPBACK)
    monkeypatch.setenv("ROS_LOCALHOST_ONLY", "1")  # Humble
    monkeypatch.setenv("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")  # Jazzy


@pytest.fixture
def ros_context(loopback_only):
    context = rclpy.Context()
    rclpy.init(context=context, domain_id=1 + os.getpid() % 100)  # apart from other test runs
    yield context
    context.try_shutdown()


def _image(stamp_sec: int) -> Image:
    msg = Image()
    msg.header.stamp.sec = stamp_sec
    msg.header.frame_id = FRAME
    msg.height, msg.width = PIXELS.shape[:2]
    msg.encoding = "rgb8"
    msg.step = PIXELS.shape[1] * 3
    msg.data = array.array("B", PIXELS.tobytes())
    return msg


def _camera_info(stamp_sec: int) -> CameraInfo:
    msg = CameraInfo()
    msg.header.stamp.sec = stamp_sec
    msg.header.frame_id = FRAME
    msg.height, msg.width = PIXELS.shape[:2]
    msg.k = K
    msg.p = K[0:3] + [0.0] + K[3:6] + [0.0] + K[6:9] + [0.0]
    return msg


def test_published_camera_reaches_the_recording(ros_context, tmp_path):
    config = tmp_path / "bridge.yaml"
    config.write_text(textwrap.dedent(f"""
        recording: {{sinks: {{file: out.rrd}}}}
        auto: false
        topics:
          {IMAGE_TOPIC}: {{kind: image, entity_path: /camera/image}}
          {INFO_TOPIC}: {{kind: camera_info, entity_path: /camera/pinhole}}
    """))
    bridge_node = BridgeNode(context=ros_context, parameter_overrides=[Parameter("config", value=str(config))])
    camera = rclpy.create_node("test_camera", context=ros_context)
    reliable = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)  # the bridge's best effort matches it
    image_publisher = camera.create_publisher(Image, IMAGE_TOPIC, reliable)
    info_publisher = camera.create_publisher(CameraInfo, INFO_TOPIC, reliable)
    executor = SingleThreadedExecutor(context=ros_context)
    executor.add_node(bridge_node)
    executor.add_node(camera)
    stats = bridge_node.bridge.stats

    def logged(topic: str) -> int:
        return stats[topic].logged if topic in stats else 0

    deadline = time.monotonic() + 30.0  # discovery takes a moment; keep publishing until both arrive
    try:
        stamp = 1
        while (logged(IMAGE_TOPIC) == 0 or logged(INFO_TOPIC) == 0) and time.monotonic() < deadline:
            image_publisher.publish(_image(stamp))
            info_publisher.publish(_camera_info(stamp))
            executor.spin_once(timeout_sec=0.1)
            stamp += 1
    finally:
        executor.shutdown()
        bridge_node.close()
        bridge_node.destroy_node()
        camera.destroy_node()

    assert logged(IMAGE_TOPIC) > 0 and logged(INFO_TOPIC) > 0, bridge_node.bridge.summary()
    table = read_recording(tmp_path / "out.rrd")
    buffers = column(table, "/camera/image:Image:buffer")
    assert buffers and all(bytes(cell[0]) == PIXELS.tobytes() for cell in buffers)
    assert column(table, "/camera/image:CoordinateFrame:frame")[0] == [FRAME + "_image_plane"]
    assert column(table, "/camera/pinhole:Pinhole:resolution")[0] == [[6.0, 4.0]]
    assert column(table, "/camera/pinhole:Pinhole:parent_frame")[0] == [FRAME]


def test_invalid_config_exits_with_status_2(loopback_only, tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("topics: {/cam/depth: {meter: -1}}\n")
    assert main(["bridge_node", "--ros-args", "-p", f"config:={path}", "-p", f"output:={tmp_path / 'out.rrd'}"]) == 2
