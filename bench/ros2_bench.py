"""One RGB-D camera from a real rclpy publisher, into the ROS 2 node and into `live`: published, received, logged.

The camera is test/ros2_camera.py (1280x720 rgb8, 640x480 16UC1 and their two CameraInfo at 30 Hz) on
the ROS 2 of this Python (the PyPI wheels that test/ros2/install.sh installs), publishing over Fast DDS
on loopback. The node subscribes with the same Fast DDS, with the socket receive buffer the README
advises (`RECEIVE_BUFFER`, capped by net.core.rmem_max); `live` with its own Cyclone DDS settings.

    .venv/bin/python -m bench.ros2_bench [--seconds 20]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

from .live_bench import BRIDGE_MARGIN_S, DdsLoad, TopicLoad, cyclonedds_xml, max_receive_buffer, parse_summary, run_beside
from .measure import REPO, BenchError

CAMERA = REPO / "test" / "ros2_camera.py"
FASTDDS_PROFILE = REPO / "test" / "ros2" / "fastdds_loopback.xml"
RECEIVE_BUFFER = 32 * 1024 * 1024
TOPICS = ["/camera/color/image_raw", "/camera/depth/image_rect_raw", "/camera/color/camera_info", "/camera/depth/camera_info"]
BRIDGES = ("node", "live")
# The camera streams this long after it sees every subscriber. Fast DDS's writer can see Cyclone's reader (`live`)
# a second before that reader has matched the writer: with 0.5 s, `live` lost the first 17 frames of 300, none
# after. That is discovery, not streaming; the bench measures streaming (tests check start-up on their own).
SETTLE_S = 2.0


def has_rclpy() -> bool:
    try:
        import rclpy  # noqa: F401
    except ImportError:
        return False
    return True


def run_ros2_camera(bridge: str, seconds: float, out_dir: Path) -> DdsLoad:
    """`bridge` ("node" or "live") under one rclpy camera for `seconds`."""
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out_dir) as tmp:
        env = _env(Path(tmp))
        config = Path(tmp) / "camera.yaml"
        config.write_text("auto: false\ntopics:\n" + "".join(f"  {t}: {{kind: {_kind(t)}}}\n" for t in TOPICS))
        output = Path(tmp) / f"{bridge}.rrd"
        stop_after = str(seconds + BRIDGE_MARGIN_S)
        if bridge == "node":  # runs until Ctrl-C: `timeout` sends it
            bridge_cmd = ["timeout", "--preserve-status", "-s", "INT", stop_after, sys.executable, "-m", "bridge.node",
                          "--ros-args", "-p", f"config:={config}", "-p", f"output:={output}"]  # fmt: skip
        else:
            bridge_cmd = [sys.executable, "-m", "bridge", "live", "-c", config, "-o", output, "--duration", stop_after]
        camera_cmd = [sys.executable, CAMERA, "--seconds", str(seconds), "--settle", str(SETTLE_S),
                      *[a for t in TOPICS for a in ("--expect", t)]]  # fmt: skip
        measured, publisher = run_beside(bridge_cmd, camera_cmd, env)
    if not publisher.ok:
        raise BenchError(f"the rclpy camera failed: {publisher.failure()}")
    if not measured.ok:
        raise BenchError(f"the {bridge} failed: {measured.failure()}")
    sent = len(json.loads(publisher.stdout)["stamps"])
    received = parse_summary(measured.stderr)
    topics = [replace(received.get(topic, TopicLoad(topic)), sent=sent) for topic in TOPICS]
    return DdsLoad(1, seconds, topics, measured, publisher)


def _kind(topic: str) -> str:
    return "camera_info" if topic.endswith("camera_info") else "depth" if "depth" in topic else "image"


def _env(tmp: Path) -> dict[str, str]:
    """Loopback only, a domain of its own; Fast DDS with the receive buffer the README advises."""
    receive_buffer = min(RECEIVE_BUFFER, max_receive_buffer() or RECEIVE_BUFFER)
    profile = FASTDDS_PROFILE.read_text().replace(
        "<maxMessageSize>", f"<receiveBufferSize>{receive_buffer}</receiveBufferSize>\n      <maxMessageSize>"
    )
    (tmp / "fastdds.xml").write_text(profile)
    (tmp / "cyclonedds.xml").write_text(cyclonedds_xml())
    return {
        **{name: value for name, value in os.environ.items() if not name.startswith(("ROS_", "RMW_"))},
        "ROS_DOMAIN_ID": str(random.randint(1, 200)),
        "FASTRTPS_DEFAULT_PROFILES_FILE": str(tmp / "fastdds.xml"),  # Fast DDS 2 (Jazzy)
        "FASTDDS_DEFAULT_PROFILES_FILE": str(tmp / "fastdds.xml"),  # Fast DDS 3 (Kilted)
        "CYCLONEDDS_URI": (tmp / "cyclonedds.xml").as_uri(),
    }


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.ros2_bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "data" / "out")
    args = parser.parse_args()
    if not has_rclpy():
        print("no rclpy in this Python: run test/ros2/install.sh first", file=sys.stderr)
        return 2
    from .report import ros2_table  # the report imports this module

    loads = {bridge: run_ros2_camera(bridge, args.seconds, args.out) for bridge in BRIDGES}
    print(f"net.core.rmem_max = {max_receive_buffer()}")
    print(ros2_table(loads))
    return 0


if __name__ == "__main__":
    sys.exit(main())
