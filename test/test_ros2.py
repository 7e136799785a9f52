"""Real ROS 2: the node and `live` against an rclpy camera (test/ros2_camera.py) on Fast DDS.

ROS 2 comes from its PyPI wheels (`test/ros2/install.sh`, which `.ci/run` runs): Jazzy in the test
environment, Kilted in `.venv-kilted` beside it. The node runs in the test environment's ROS 2;
the camera runs in each ROS 2 there is, so that `live` (Cyclone DDS) is tested against Fast DDS 2
(Jazzy) and 3 (Kilted). Tests skip where no ROS 2 is installed.

Every process keeps DDS on 127.0.0.1 (Fast DDS through a profile, Cyclone DDS through
CYCLONEDDS_URI) on a random domain, so that parallel runs do not meet and nothing leaves the machine.
"""

from __future__ import annotations

import json
import os
import random
import re
import signal
import subprocess
import sys
import time
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import ContextManager, Iterator

import cv2
import numpy as np
import pyarrow as pa
import pytest
from cli_process import REPO, read_until, running_bridge, running_module
from recordings import column, last_chunk_rows, read_entities, rows
from rerun.chunk import RrdReader
from ros2_camera import (
    COLOR, COLOR_FRAME, COLOR_INFO, COMPRESSED, DEPTH, DEPTH_FRAME, DEPTH_INFO, DEPTH_SHAPE, LATCHED, STATIC_TRANSFORMS, TF, TF_STATIC,
    color_for, depth_for, focal_length_for, jpeg_for, translation_for,
)  # fmt: skip

TEST_DIR = Path(__file__).parent
FASTDDS_PROFILE = TEST_DIR / "ros2" / "fastdds_loopback.xml"
CYCLONEDDS_LOOPBACK = (
    '<CycloneDDS><Domain Id="any"><General><Interfaces><NetworkInterface name="lo" multicast="false"/>'
    "</Interfaces><AllowMulticast>false</AllowMulticast></General><Discovery><ParticipantIndex>auto"
    "</ParticipantIndex><MaxAutoParticipantIndex>32</MaxAutoParticipantIndex><Peers><Peer address=\"127.0.0.1\"/>"
    "</Peers></Discovery></Domain></CycloneDDS>"
)
ALL_TOPICS = [COLOR, DEPTH, COMPRESSED, COLOR_INFO, DEPTH_INFO, TF, TF_STATIC]
STREAMED = [COLOR, DEPTH, COMPRESSED, COLOR_INFO, DEPTH_INFO, TF]
CONFIG = f"""
auto: false
topics:
  {COLOR}: {{kind: image}}
  {DEPTH}: {{kind: depth, queue_size: 5}}
  {COMPRESSED}: {{kind: compressed}}
  {COLOR_INFO}: {{kind: camera_info}}
  {DEPTH_INFO}: {{kind: camera_info}}
  {TF}: {{kind: tf}}
  {TF_STATIC}: {{kind: tf}}
"""


def env_for(python: str, env: dict[str, str]) -> dict[str, str]:
    """`env` for a Python of another venv than this one.

    The ROS 2 wheels restart each Python once with their libraries on LD_LIBRARY_PATH and a flag saying
    so (ros_wheels_bootstrapper); a child of this process inherits both, which a Python of other ROS 2
    wheels must not: it would look for its libraries in this venv.
    """
    if python == sys.executable:
        return env
    library_path = [p for p in env.get("LD_LIBRARY_PATH", "").split(os.pathsep) if p and not p.startswith(sys.prefix)]
    others = {name: value for name, value in env.items() if name != "_ROS_WHEELS_BOOTSTRAP_COMPLETE"}
    return {**others, "LD_LIBRARY_PATH": os.pathsep.join(library_path)}


def _has_rclpy(python: str) -> bool:
    check = "import rclpy, sensor_msgs.msg, tf2_msgs.msg"
    result = subprocess.run([python, "-c", check], capture_output=True, timeout=60, env=env_for(python, dict(os.environ)))
    return result.returncode == 0


ROS_PYTHONS = {
    name: python
    for name, python in (("jazzy", sys.executable), ("kilted", str(REPO / ".venv-kilted" / "bin" / "python")))
    if Path(python).exists() and _has_rclpy(python)
}
needs_ros = pytest.mark.skipif("jazzy" not in ROS_PYTHONS, reason="no ROS 2 here: run test/ros2/install.sh .venv")


@pytest.fixture
def ros_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Loopback-only DDS on a domain of its own, for this process and every process it starts."""
    (tmp_path / "cyclonedds.xml").write_text(CYCLONEDDS_LOOPBACK)
    for name in [name for name in os.environ if name.startswith(("ROS_", "RMW_"))]:  # a user's network settings
        monkeypatch.delenv(name)
    dds = {
        "ROS_DOMAIN_ID": str(random.randint(10, 200)),
        # Fast DDS 2 (Jazzy) reads the first name only, Fast DDS 3 (Kilted) the second (and warns about the first).
        "FASTRTPS_DEFAULT_PROFILES_FILE": str(FASTDDS_PROFILE),
        "FASTDDS_DEFAULT_PROFILES_FILE": str(FASTDDS_PROFILE),
        "CYCLONEDDS_URI": (tmp_path / "cyclonedds.xml").as_uri(),
    }
    for name, value in dds.items():
        monkeypatch.setenv(name, value)
    return dict(os.environ)


@pytest.fixture
def jpegs(tmp_path: Path) -> list[Path]:
    paths = []
    for index in range(3):
        path = tmp_path / f"frame{index}.jpg"
        path.write_bytes(cv2.imencode(".jpg", np.full((48, 64, 3), 60 * index, np.uint8))[1].tobytes())
        paths.append(path)
    return paths


@contextmanager
def camera(python: str, env: dict[str, str], *args: str | Path) -> Iterator[subprocess.Popen]:
    """The rclpy camera in its own process; its stdout (the stamps, as JSON) is read when it ends."""
    command = [python, str(TEST_DIR / "ros2_camera.py"), *map(str, args)]
    process = subprocess.Popen(command, env=env_for(python, env), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def sent_stamps(process: subprocess.Popen) -> list[int]:
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 0, stderr
    return json.loads(stdout)["stamps"]


def bridge_node(*parameters: str) -> ContextManager[subprocess.Popen]:
    """`bridge_node --ros-args -p NAME:=VALUE ...` as `ros2 run` starts it, with its stderr (the ROS log) as text."""
    return running_module("bridge.node", "--ros-args", *[arg for parameter in parameters for arg in ("-p", parameter)])


def cells(path: Path, name: str) -> Iterator[tuple[int, pa.Scalar]]:
    """(ros2_timestamp in ns, first instance) of each row of the recording where column `name` has data."""
    return ((stamp, cell.values[0]) for stamp, cell in rows(path, name))


def buffer(instance: pa.Scalar) -> np.ndarray:
    return instance.values.to_numpy(zero_copy_only=False)


def summary_counts(log: str) -> dict[str, dict[str, int]]:
    """topic -> {received, logged, dropped, failed, skipped} from the bridge's closing per-topic lines."""
    counts: dict[str, dict[str, int]] = {}
    for topic, rest in re.findall(r"(/[\w/]+): (\d+ received.*)$", log, re.MULTILINE):
        counts[topic] = {name: int(n) for n, name in re.findall(r"(\d+) (received|logged|dropped|failed|skipped)", rest)}
    return counts


def assert_complete_and_exact(output: Path, log: str, stamps: list[int], jpeg_paths: list[Path], width: int, height: int) -> None:
    """Every topic logged, every received frame accounted for, every logged row exactly what was sent with its stamp."""
    counts = summary_counts(log)
    for topic in ALL_TOPICS:
        topic_counts = counts.get(topic, {})
        assert topic_counts.get("logged", 0) > 0, (topic, log)
        assert topic_counts["received"] == topic_counts["logged"] + topic_counts.get("dropped", 0), (topic, topic_counts)
        assert not topic_counts.get("failed"), (topic, log)

    jpegs = [path.read_bytes() for path in jpeg_paths]
    sent = set(stamps)
    checks = {
        f"{COLOR}:Image:buffer": lambda stamp, cell: np.array_equal(buffer(cell), color_for(stamp, (height, width)).ravel()),
        f"{DEPTH}:DepthImage:buffer": lambda stamp, cell: np.array_equal(buffer(cell).view(np.uint16), depth_for(stamp).ravel()),
        f"{COMPRESSED}:EncodedImage:blob": lambda stamp, cell: buffer(cell).tobytes() == jpeg_for(stamp, jpegs),
        f"{COLOR_INFO}:Pinhole:image_from_camera": lambda stamp, cell: cell.as_py()[0] == focal_length_for(stamp),
        # The depth camera's calibration is at twice its resolution: binning halves its focal length back.
        f"{DEPTH_INFO}:Pinhole:image_from_camera": lambda stamp, cell: cell.as_py()[0] == focal_length_for(stamp),
        f"{TF}:Transform3D:translation": lambda stamp, cell: np.allclose(cell.as_py(), translation_for(stamp)),
    }  # fmt: skip
    for name, matches in checks.items():  # frame by frame: 90 frames of 720p read at once take a gigabyte
        logged = 0
        for stamp, cell in cells(output, name):
            assert stamp in sent and matches(stamp, cell), (name, stamp)
            logged += 1
        assert logged == counts[name.split(":")[0]]["logged"], name
    frames = {tuple(cell.as_py()) for _, cell in rows(output, f"{COLOR}:CoordinateFrame:frame")}
    assert frames == {(COLOR_FRAME + "_image_plane",)}
    table = read_entities(output, [DEPTH_INFO, TF_STATIC])
    assert column(table, f"{DEPTH_INFO}:Pinhole:resolution")[0] == [[float(DEPTH_SHAPE[1]), float(DEPTH_SHAPE[0])]]
    assert last_chunk_rows(output, TF_STATIC) == len(STATIC_TRANSFORMS)  # one static row per transform
    assert column(table, f"{TF_STATIC}:Transform3D:child_frame")[-1][0] in {child for _, child, _, _ in STATIC_TRANSFORMS}


def no_errors(log: str) -> bool:
    return not re.search(r"\[(ERROR|FATAL)\]|Traceback", log)


# -- the node ------------------------------------------------------------------------------------


@needs_ros
@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_node_records_every_frame_it_receives_exactly(tmp_path: Path, ros_env: dict, jpegs: list[Path], stop: int) -> None:
    config = tmp_path / "bridge.yaml"
    config.write_text(CONFIG)
    output = tmp_path / "node.rrd"
    # The camera latches /tf_static first, before the node exists; then it waits for the node's subscriptions.
    with camera(sys.executable, ros_env, "--seconds", 3, *[a for j in jpegs for a in ("--jpeg", j)],
                *[a for t in STREAMED for a in ("--expect", t)]) as publisher:  # fmt: skip
        read_until(publisher, LATCHED)
        with bridge_node(f"config:={config}", f"output:={output}", "recording_id:=42", "application_id:=007") as node:
            stamps = sent_stamps(publisher)
            time.sleep(0.5)
            node.send_signal(stop)
            _, log = node.communicate(timeout=60)

    assert node.returncode == 0, log
    assert no_errors(log), log
    assert_complete_and_exact(output, log, stamps, jpegs, width=1280, height=720)
    assert [store.recording_id for store in RrdReader(output).recordings()] == ["42"]


@needs_ros
def test_node_in_auto_mode_loses_no_frame_to_start_up(tmp_path: Path, ros_env: dict) -> None:
    output = tmp_path / "auto.rrd"
    with bridge_node(f"output:={output}") as node:
        started = read_until(node, "ready: ")  # the node is up and watching the graph before the camera appears
        with camera(sys.executable, ros_env, "--seconds", 2, "--width", 320, "--height", 240,
                    *[a for t in (COLOR, DEPTH, COLOR_INFO, TF) for a in ("--expect", t)]) as publisher:  # fmt: skip
            stamps = sent_stamps(publisher)
        time.sleep(0.5)
        node.send_signal(signal.SIGINT)
        log = started + node.communicate(timeout=60)[1]

    assert node.returncode == 0 and no_errors(log), log
    counts = summary_counts(log)
    for topic in (COLOR, DEPTH, COLOR_INFO, TF):
        assert counts[topic]["received"] == counts[topic]["logged"] + counts[topic].get("dropped", 0), topic
    # The first second, when a bridge that imports on its first frame (~0.5 s) dropped frames, is complete
    # (later, a machine busy with other work may drop a frame to UDP or the queue: not start-up's doing).
    for name in (f"{COLOR}:Image:buffer", f"{DEPTH}:DepthImage:buffer", f"{COLOR_INFO}:Pinhole:image_from_camera"):
        logged = {stamp for stamp, _ in cells(output, name)}
        assert set(stamps[:30]) <= logged, (name, sorted(set(stamps[:30]) - logged))


@needs_ros
def test_node_records_two_robots_in_their_namespaces_apart(tmp_path: Path, ros_env: dict, jpegs: list[Path]) -> None:
    """Two rclpy cameras with the same topics and frames, each in its robot's namespace (`__ns`), into one node;
    each robot's depth made a cloud coloured from its own colour camera."""
    robots = ["/robot1", "/robot2"]
    config = tmp_path / "bridge.yaml"
    depth = f"{DEPTH}: {{kind: depth, queue_size: 5}}"
    config.write_text(CONFIG.replace(depth, depth[:-1] + f", point_cloud: {COLOR}}}"))  # one robot's topics, no namespace
    output = tmp_path / "fleet.rrd"
    with bridge_node(f"config:={config}", f"output:={output}", "namespaces:=[/robot1, robot2]") as node:
        started = read_until(node, "ready: ")  # the node is up before the cameras
        with ExitStack() as stack:
            cameras = {ns: stack.enter_context(camera(
                sys.executable, ros_env, "--seconds", 2, "--width", 320, "--height", 240,
                *[a for j in jpegs for a in ("--jpeg", j)], *[a for t in STREAMED for a in ("--expect", t)],
                "--ros-args", "-r", f"__ns:={ns}")) for ns in robots}  # fmt: skip
            sent = {ns: set(sent_stamps(process)) for ns, process in cameras.items()}
        time.sleep(0.5)
        node.send_signal(signal.SIGINT)
        log = started + node.communicate(timeout=60)[1]

    assert node.returncode == 0 and no_errors(log), log
    counts = summary_counts(log)
    jpeg_data = [path.read_bytes() for path in jpegs]
    for ns in robots:
        robot = ns.lstrip("/")
        for topic in ALL_TOPICS:
            topic_counts = counts.get(ns + topic, {})
            assert topic_counts.get("logged", 0) > 0, (ns + topic, log)
            assert topic_counts["received"] == topic_counts["logged"] + topic_counts.get("dropped", 0), (ns + topic, log)
        checks = {  # every row at a robot's entity is one that robot sent, intact
            f"{ns}{COLOR}:Image:buffer": lambda stamp, cell: np.array_equal(buffer(cell), color_for(stamp, (240, 320)).ravel()),
            f"{ns}{COMPRESSED}:EncodedImage:blob": lambda stamp, cell: buffer(cell).tobytes() == jpeg_for(stamp, jpeg_data),
            f"{ns}{COLOR_INFO}:Pinhole:image_from_camera": lambda stamp, cell: cell.as_py()[0] == focal_length_for(stamp),
            f"{ns}{TF}:Transform3D:translation": lambda stamp, cell: np.allclose(cell.as_py(), translation_for(stamp)),
        }  # fmt: skip
        for name, matches in checks.items():
            logged = list(cells(output, name))
            assert len(logged) == counts[name.split(":")[0]]["logged"], name
            assert all(stamp in sent[ns] and matches(stamp, cell) for stamp, cell in logged), name
        frames = {tuple(cell.as_py()) for _, cell in rows(output, f"{ns}{COLOR}:CoordinateFrame:frame")}
        assert frames == {(f"{robot}/{COLOR_FRAME}_image_plane",)}
        # Its clouds, from its own depth, colour camera and TF: at stamps it sent, in its depth camera's frame.
        clouds = int(re.findall(rf"^.*{ns}{DEPTH} \(cloud\): (\d+) logged", log, re.MULTILINE)[-1])  # its closing summary
        stamps = [stamp for stamp, _ in cells(output, f"{ns}{DEPTH}/points:Points3D:positions")]
        assert 0 < len(stamps) == clouds and set(stamps) <= sent[ns]
        frames = {tuple(cell.as_py()) for _, cell in rows(output, f"{ns}{DEPTH}/points:CoordinateFrame:frame")}
        assert frames == {(f"{robot}/{DEPTH_FRAME}",)}
        children = {tuple(cell.as_py()) for _, cell in rows(output, f"{ns}{TF}:Transform3D:child_frame")}
        assert children == {(f"{robot}/base_link",)}
        assert last_chunk_rows(output, f"{ns}{TF_STATIC}") == len(STATIC_TRANSFORMS)
        table = read_entities(output, [f"{ns}{TF}", f"{ns}{TF_STATIC}"])  # with a timeline: static alone has none
        assert column(table, f"{ns}{TF_STATIC}:Transform3D:parent_frame")[-1][0] in {
            f"{robot}/{parent}" for parent, _, _, _ in STATIC_TRANSFORMS
        }


@needs_ros
def test_node_reports_configured_topics_nobody_publishes(tmp_path: Path, ros_env: dict) -> None:
    config = tmp_path / "bridge.yaml"
    config.write_text("auto: false\ntopics:\n  /nobody/image_raw: {kind: image}\n")
    output = tmp_path / "out.rrd"
    with bridge_node(f"config:={config}", f"output:={output}") as node:
        log = read_until(node, "/nobody/image_raw: no publisher")  # after start-up and the five seconds it gives a topic
        node.send_signal(signal.SIGINT)
        log += node.communicate(timeout=60)[1]
    assert node.returncode == 0, log
    assert "/nobody/image_raw: no publisher" in log
    assert "nothing was recorded: no file written" in log and not output.exists()


@needs_ros
def test_node_rejects_an_invalid_config_with_status_2(tmp_path: Path, ros_env: dict) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text("topics: {/cam/depth: {meter: -1}}\n")
    with bridge_node(f"config:={config}", f"output:={tmp_path / 'out.rrd'}") as node:
        _, log = node.communicate(timeout=60)
    assert node.returncode == 2
    assert "topics./cam/depth.meter" in log and "Traceback" not in log


# -- `live`: Cyclone DDS against rclpy on Fast DDS --------------------------------------------------


@needs_ros
@pytest.mark.parametrize("distro", ["jazzy", "kilted"])
def test_live_records_an_rclpy_camera_on_fast_dds(tmp_path: Path, ros_env: dict, jpegs: list[Path], distro: str) -> None:
    if distro not in ROS_PYTHONS:
        pytest.skip(f"no ROS 2 {distro} here: run test/ros2/install.sh .venv-{distro} {distro}")
    config = tmp_path / "bridge.yaml"
    config.write_text(CONFIG)
    output = tmp_path / "live.rrd"
    # Cyclone DDS takes reliable samples from a Fast DDS writer (the latched /tf_static) only once the writer's
    # first heartbeat came, up to 3 s after matching: the camera stays that long after its last frame.
    with camera(ROS_PYTHONS[distro], ros_env, "--seconds", 3, "--linger", 4, *[a for j in jpegs for a in ("--jpeg", j)],
                *[a for t in STREAMED for a in ("--expect", t)]) as publisher:  # fmt: skip
        read_until(publisher, LATCHED)
        with running_bridge("live", "-c", config, "-o", output) as bridge:
            stamps = sent_stamps(publisher)
            time.sleep(0.5)
            bridge.send_signal(signal.SIGTERM)
            _, log = bridge.communicate(timeout=60)

    assert bridge.returncode == 0, log
    assert_complete_and_exact(output, log, stamps, jpegs, width=1280, height=720)


def test_live_without_a_publisher_says_so_and_fails(tmp_path: Path, ros_env: dict) -> None:
    config = tmp_path / "bridge.yaml"
    config.write_text(f"auto: false\ntopics:\n  {COLOR}: {{kind: image}}\n")
    with running_bridge("live", "-c", config, "-o", tmp_path / "live.rrd", "--duration", 6) as bridge:
        _, log = bridge.communicate(timeout=60)
    assert bridge.returncode == 1, log
    assert f"{COLOR}: no publisher" in log
    assert "nothing was converted: no file written" in log
