"""Live bridging over real DDS: a separate publisher process (dds_publisher.py) streams ROS 2-typed
camera and TF topics; the bridge subscribes with Cyclone DDS and writes an .rrd, read back here.

Every DDS process runs on loopback only, on a random domain, so that parallel runs do not meet.
"""

from __future__ import annotations

import json
import os
import random
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from dds_publisher import (
    CAMERA_INFO, COLOR, COMPRESSED, DEPTH, IGNORED, STATIC_TRANSFORMS, TF, TF_STATIC,
    color_for, depth_for, focal_length_for, jpeg_for, translation_for,
)  # fmt: skip
from cli_process import running_bridge
from ports import free_port
from recordings import column, last_chunk_rows, read_recording

from bridge.config import ConfigError, SinksConfig, parse_config
from bridge.core import Bridge
from bridge.sinks import Recording
from bridge.sources.dds import cyclone_config, dds_type_name, domain_id_from_env, ros_type_name, run_live

TEST_DIR = Path(__file__).parent
LOOPBACK_ONLY = """<CycloneDDS><Domain Id="any"><General><Interfaces><NetworkInterface name="lo" multicast="false"/>
</Interfaces><AllowMulticast>false</AllowMulticast></General><Discovery><ParticipantIndex>auto
</ParticipantIndex><MaxAutoParticipantIndex>32</MaxAutoParticipantIndex><Peers><Peer address="127.0.0.1"/>
</Peers></Discovery></Domain></CycloneDDS>"""


@pytest.fixture
def dds_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Loopback-only Cyclone DDS on a domain of its own, for this process and the ones it starts."""
    config = tmp_path / "cyclonedds.xml"
    config.write_text(LOOPBACK_ONLY)
    dds = {"CYCLONEDDS_URI": config.as_uri(), "ROS_DOMAIN_ID": str(random.randint(10, 200))}
    for name, value in dds.items():
        monkeypatch.setenv(name, value)
    return {**os.environ, **dds}


def publish(env: dict[str, str], seconds: float, expect: list[str], scene: str = "noise") -> set[int]:
    """Run the publisher until it is done; the header stamps it sent."""
    return publish_robots(env, seconds, expect, [""], scene)[""]


def publish_robots(env: dict[str, str], seconds: float, expect: list[str], namespaces: list[str],
                   scene: str = "noise") -> dict[str, set[int]]:  # fmt: skip
    """Run one publisher per robot namespace ("": none) at once until they are done; the stamps each sent."""
    command = [sys.executable, str(TEST_DIR / "dds_publisher.py"), "--seconds", str(seconds), "--scene", scene]
    command += [arg for topic in expect for arg in ("--expect", topic)]
    robots = {ns: subprocess.Popen([*command, "--namespace", ns], env=env, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True) for ns in namespaces}  # fmt: skip
    sent = {}
    for ns, robot in robots.items():
        stdout, stderr = robot.communicate(timeout=60)
        assert robot.returncode == 0, stderr
        sent[ns] = set(json.loads(stdout)["stamps"])
    return sent


def cells(table: pa.Table, name: str) -> list[tuple[int, pa.Scalar]]:
    """(ros2_timestamp in ns, first instance) of each row where column `name` has data."""
    stamps = table.column("ros2_timestamp").cast(pa.int64()).to_pylist()
    values = table.column(name).combine_chunks()
    return [(stamp, values[row].values[0]) for row, stamp in enumerate(stamps) if values[row].is_valid]


def row_checks(prefix: str = "") -> dict[str, Callable[[int, pa.Scalar], bool]]:
    """Column -> whether a cell at a stamp holds what the publisher sent then, for the entities under `prefix`."""
    return {
        f"{prefix}{COLOR}:Image:buffer": lambda stamp, cell: same_pixels(cell, color_for(stamp)),
        f"{prefix}{DEPTH}:DepthImage:buffer": lambda stamp, cell: same_pixels(cell, depth_for(stamp)),
        f"{prefix}{COMPRESSED}:EncodedImage:blob": lambda stamp, cell: buffer_bytes(cell).tobytes() == jpeg_for(stamp),
        f"{prefix}{CAMERA_INFO}:Pinhole:image_from_camera": lambda stamp, cell: cell.as_py()[0] == focal_length_for(stamp),
        f"{prefix}{TF}:Transform3D:translation": lambda stamp, cell: np.allclose(cell.as_py(), translation_for(stamp)),
    }  # fmt: skip


def buffer_bytes(instance: pa.Scalar) -> np.ndarray:
    return instance.values.to_numpy(zero_copy_only=False)


def same_pixels(instance: pa.Scalar, expected: np.ndarray) -> bool:
    """Whether an image buffer holds exactly `expected`'s pixels."""
    return np.array_equal(buffer_bytes(instance).view(expected.dtype), expected.ravel())


def entities(table: pa.Table) -> set[str]:
    return {name.split(":")[0] for name in table.column_names if ":" in name}


def test_every_logged_frame_arrives_intact_with_its_stamp(tmp_path: Path, dds_env: dict[str, str]) -> None:
    config = parse_config({
        "auto": True,  # discovers the compressed image, the camera info and TF
        "exclude": ["/camera/ignored/.*"],
        "topics": {COLOR: {"kind": "image"}, DEPTH: {"kind": "depth", "qos": "reliable", "queue_size": 5}},
    }).with_sinks(SinksConfig(file=tmp_path / "live.rrd"))  # fmt: skip
    recording = Recording(config.recording)
    bridge = Bridge(config, recording)
    stop = threading.Event()
    live = threading.Thread(target=run_live, args=(bridge,), kwargs={"stop": stop})
    live.start()
    try:
        sent = publish(dds_env, seconds=3, expect=[COLOR, DEPTH, COMPRESSED, CAMERA_INFO, TF])
    finally:
        stop.set()
        live.join()
        recording.close()

    assert IGNORED not in bridge.stats
    for topic in (COLOR, DEPTH, COMPRESSED, CAMERA_INFO, TF, TF_STATIC):
        stats = bridge.stats[topic]
        assert stats.logged > 0, topic
        assert stats.received == stats.logged + stats.dropped + stats.failed, topic

    table = read_recording(tmp_path / "live.rrd")
    assert entities(table) == {COLOR, DEPTH, COMPRESSED, CAMERA_INFO, TF, TF_STATIC}
    for name, matches in row_checks().items():
        rows = cells(table, name)
        assert len(rows) == bridge.stats[name.split(":")[0]].logged, name
        assert all(stamp in sent and matches(stamp, cell) for stamp, cell in rows), name
    assert last_chunk_rows(tmp_path / "live.rrd", TF_STATIC) == len(STATIC_TRANSFORMS)  # one static row per transform
    assert column(table, f"{TF_STATIC}:Transform3D:child_frame")[-1][0] in {child for _, child, _, _ in STATIC_TRANSFORMS}


def test_cli_without_its_viewer_writes_a_complete_file_when_terminated(tmp_path: Path, dds_env: dict[str, str]) -> None:
    config = tmp_path / "live.yaml"
    config.write_text(f"auto: false\ntopics:\n  {COLOR}: {{kind: image}}\n")
    port = free_port()  # no viewer behind it
    output = tmp_path / "live.rrd"
    # dds_env is this process's environment too, so the bridge inherits it.
    connect = ("--connect", f"rerun+http://127.0.0.1:{port}/proxy")
    with running_bridge("live", "-c", config, "-o", output, *connect) as bridge:
        sent = publish(dds_env, seconds=1.5, expect=[COLOR])
        bridge.send_signal(signal.SIGTERM)
        _, stderr = bridge.communicate(timeout=30)

    assert bridge.returncode == 0, stderr
    summary = re.search(rf"^{COLOR}: .*$", stderr, re.MULTILINE)[0]  # the counters the bridge prints at exit
    counts = {name: int(count) for count, name in re.findall(r"(\d+) (received|logged|dropped|failed)", summary)}
    assert counts["received"] == counts["logged"] + counts.get("dropped", 0) + counts.get("failed", 0)
    table = read_recording(output)
    assert entities(table) == {COLOR}  # auto is off: only the listed topic
    rows = cells(table, f"{COLOR}:Image:buffer")
    assert len(rows) == counts["logged"] > 0
    assert all(stamp in sent and same_pixels(cell, color_for(stamp)) for stamp, cell in rows)


def test_two_robots_with_the_same_topics_and_frames_share_one_recording(tmp_path: Path, dds_env: dict[str, str]) -> None:
    """The issue's fleet: two robots publish the same topics under their namespaces, with the same frame names,
    into one `live`: each is complete at its own entity paths, and placed in 3D by its own TF; each robot's depth
    is registered into its own colour camera and coloured from it (here one camera: the same pixels)."""
    robots = ["/robot1", "/robot2"]
    config = tmp_path / "robot.yaml"  # one robot's cameras, without a namespace
    config.write_text(f"exclude: ['/camera/ignored/.*']\ntopics:\n  {COLOR}: {{kind: image}}\n"
                      f"  {DEPTH}: {{kind: depth, qos: reliable, queue_size: 5, register: {COLOR}, point_cloud: {COLOR}}}\n")  # fmt: skip
    output = tmp_path / "fleet.rrd"
    with running_bridge("live", "-c", config, "-o", output, "--namespace", robots[0], "--namespace", robots[1]) as bridge:
        sent = publish_robots(dds_env, seconds=2, expect=[COLOR, DEPTH, COMPRESSED, CAMERA_INFO, TF], namespaces=robots)
        bridge.send_signal(signal.SIGTERM)
        _, stderr = bridge.communicate(timeout=30)
    assert bridge.returncode == 0, stderr

    table = read_recording(output)
    topics = [COLOR, DEPTH, COMPRESSED, CAMERA_INFO, TF, TF_STATIC, f"{DEPTH}/registered", f"{DEPTH}/points"]
    assert entities(table) == {ns + topic for ns in robots for topic in topics}
    for ns in robots:
        robot = ns.lstrip("/")
        for topic in topics[:6]:  # the counters the bridge prints at exit, by the full topic name
            summary = re.search(rf"^{ns}{topic}: .*$", stderr, re.MULTILINE)[0]
            counts = {name: int(count) for count, name in re.findall(r"(\d+) (received|logged|dropped|failed)", summary)}
            assert counts["logged"] > 0 and counts["received"] == counts["logged"] + counts.get("dropped", 0), summary
        for name, matches in row_checks(ns).items():  # every row at a robot's entity is one that robot sent, intact
            rows = cells(table, name)
            assert rows and all(stamp in sent[ns] and matches(stamp, cell) for stamp, cell in rows), name
        # Its frames carry its name: images in its camera's image plane, its TF between its frames.
        plane = f"{robot}/camera_optical_frame_image_plane"
        for topic in (COLOR, DEPTH, COMPRESSED):
            assert {tuple(cell) for cell in column(table, f"{ns}{topic}:CoordinateFrame:frame")} == {(plane,)}, topic
        assert {tuple(c) for c in column(table, f"{ns}{CAMERA_INFO}:Pinhole:child_frame")} == {(plane,)}
        assert {tuple(c) for c in column(table, f"{ns}{TF}:Transform3D:parent_frame")} == {(f"{robot}/odom",)}
        assert {tuple(c) for c in column(table, f"{ns}{TF}:Transform3D:child_frame")} == {(f"{robot}/base_link",)}
        assert last_chunk_rows(output, f"{ns}{TF_STATIC}") == len(STATIC_TRANSFORMS)  # its own, not the other's too
        assert column(table, f"{ns}{TF_STATIC}:Transform3D:child_frame")[-1][0] in {
            f"{robot}/{child}" for _, child, _, _ in STATIC_TRANSFORMS
        }
        check_rgbd(table, ns, sent[ns], stderr)


def check_rgbd(table: pa.Table, ns: str, sent: set[int], stderr: str) -> None:
    """A robot's registered depth and cloud: as many as the summary says, each at a stamp that robot sent, in its
    frames, with its frame's pixels. Depth and colour come from one camera here (one frame, one CameraInfo), so
    registration moves no pixel and each point has the colour of its own pixel. The publisher changes its
    calibration every frame: a CameraInfo that lands between the lookups of the two cameras would shift that
    one frame's pixels, so the values are checked on all frames but one or two."""
    robot = ns.lstrip("/")
    for product, column_name in (("registered", f"{ns}{DEPTH}/registered:DepthImage:buffer"),
                                 ("cloud", f"{ns}{DEPTH}/points:Points3D:colors")):  # fmt: skip
        logged = int(re.search(rf"^{ns}{DEPTH} \({product}\): (\d+) logged", stderr, re.MULTILINE)[1])
        rows = cells(table, column_name)
        assert len(rows) == logged > 0 and all(stamp in sent for stamp, _ in rows), product
    registered = cells(table, f"{ns}{DEPTH}/registered:DepthImage:buffer")
    assert sum(same_pixels(cell, depth_for(stamp)) for stamp, cell in registered) >= len(registered) - 2
    stamps = table.column("ros2_timestamp").cast(pa.int64()).to_pylist()
    clouds = [(stamp, np.array(colours, np.uint32)) for stamp, colours
              in zip(stamps, table.column(f"{ns}{DEPTH}/points:Points3D:colors").to_pylist()) if colours is not None]  # fmt: skip
    own = [np.array_equal(np.stack([rgba >> 24, (rgba >> 16) & 255, (rgba >> 8) & 255], 1),
                          color_for(stamp)[depth_for(stamp) > 0]) for stamp, rgba in clouds]  # fmt: skip
    assert sum(own) >= len(clouds) - 2
    assert {tuple(c) for c in column(table, f"{ns}{DEPTH}/registered:CoordinateFrame:frame")} == {(f"{robot}/camera_optical_frame_image_plane",)}
    assert {tuple(c) for c in column(table, f"{ns}{DEPTH}/points:CoordinateFrame:frame")} == {(f"{robot}/camera_optical_frame",)}


@pytest.mark.parametrize(("dds_name", "ros_name"), [
    ("sensor_msgs::msg::dds_::Image_", "sensor_msgs/msg/Image"),
    ("tf2_msgs::msg::dds_::TFMessage_", "tf2_msgs/msg/TFMessage"),
    ("DDS::String", None),
])  # fmt: skip
def test_ros_type_names_map_to_dds_type_names(dds_name: str, ros_name: str | None) -> None:
    assert ros_type_name(dds_name) == ros_name
    if ros_name is not None:
        assert dds_type_name(ros_name) == dds_name


def test_a_bad_ros_domain_id_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ROS_DOMAIN_ID", "abc")
    with pytest.raises(ConfigError, match="ROS_DOMAIN_ID='abc'"):
        domain_id_from_env()
    monkeypatch.setenv("ROS_DOMAIN_ID", "")
    assert domain_id_from_env() == 0


def test_cyclone_joins_with_the_bridge_settings_under_the_users() -> None:
    user = "file:///etc/robot/cyclonedds.xml"
    config = cyclone_config(user, rmem_max=4 * 1024 * 1024)
    own, theirs = config.split(",")
    assert theirs == user  # last, so that the user's settings win where both set one
    assert "<IgnoreTypeInformation>1.15</IgnoreTypeInformation>" in own  # Fast DDS writers' type information
    assert 'min="4194304B" max="33554432B"' in own  # what the kernel allows, up to what the bridge wants
    assert cyclone_config(None, rmem_max=None) == own.replace('min="4194304B"', 'min="33554432B"')
