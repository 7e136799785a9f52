"""The shipped examples: every config validates and the CLI accepts it, the RealSense one routes a real
bag as its comments say, and the launch file compiles and exposes every node parameter."""

from __future__ import annotations

import ast
import py_compile
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from bridge.config import SinksConfig, load_config
from bridge.core import Bridge
from bridge.core.overrides import NODE_PARAMETERS, RecordingOverrides
from bridge.replay import replay
from bridge.sinks import Recording
from recordings import camera_info_msg, column, compressed_msg, image_msg, read_recording, write_bag

REPO = Path(__file__).resolve().parent.parent
CONFIGS = sorted((REPO / "config").glob("*.yaml"))
LAUNCH_FILE = REPO / "launch" / "bridge.launch.py"


def test_the_documented_examples_are_shipped():
    assert {path.name for path in CONFIGS} >= {"rgbd_camera.yaml", "realsense_d4xx.yaml", "stereo_rig.yaml"}


@pytest.mark.parametrize("path", CONFIGS, ids=lambda path: path.name)
def test_example_config_validates_with_a_sink(path):
    config = load_config(path)
    assert config.topics
    assert config.recording.sinks.any()  # the launch file's default must have somewhere to send data


@pytest.mark.parametrize("path", CONFIGS, ids=lambda path: path.name)
def test_check_config_command_accepts_example(path):
    result = subprocess.run(
        [sys.executable, "-m", "bridge", "check-config", str(path)],
        cwd=REPO, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert f"{path}: valid" in result.stdout


def test_realsense_example_groups_raw_streams_per_camera(tmp_path):
    frame = "camera_color_optical_frame"
    rgb = np.arange(4 * 6 * 3, dtype=np.uint8).reshape(4, 6, 3)
    depth = np.full((4, 6), 1500, np.uint16)
    k = [50, 0, 3, 0, 50, 2, 0, 0, 1]
    p = [40, 0, 3, 0, 0, 40, 2, 0, 0, 0, 1, 0]
    messages = []
    for i in range(2):
        ns = (i + 1) * 100_000_000
        messages += [
            ("/camera/camera/color/image_raw", image_msg(rgb, "rgb8", ns, frame), ns),
            ("/camera/camera/color/image_raw/compressed", compressed_msg(b"not a jpeg", "jpeg", ns, frame), ns),
            ("/camera/camera/aligned_depth_to_color/image_raw", image_msg(depth, "16UC1", ns, frame), ns),
            ("/camera/camera/aligned_depth_to_color/camera_info", camera_info_msg(k, 6, 4, ns, frame, p=p), ns),
        ]
    bag = write_bag(tmp_path / "bag", messages)
    output = tmp_path / "realsense.rrd"
    config = RecordingOverrides(SinksConfig(file=output)).apply(load_config(REPO / "config" / "realsense_d4xx.yaml"))
    recording = Recording(config.recording)
    bridge = Bridge(config, recording)
    assert replay([bag], bridge) == []
    recording.close()

    # The compressed variant is excluded, so the undecodable JPEG never reaches the conversion.
    assert "/camera/camera/color/image_raw/compressed" not in bridge.stats
    table = read_recording(output)
    assert [bytes(cell[0]) for cell in column(table, "/realsense/color/image:Image:buffer")] == [rgb.tobytes()] * 2
    assert column(table, "/realsense/aligned_depth/image:DepthImage:meter") == [[1000.0]] * 2
    # Aligned depth is rectified: the pinhole takes P (fx 40), not K (fx 50). Rerun stores it column-major.
    image_from_camera = column(table, "/realsense/aligned_depth/pinhole:Pinhole:image_from_camera")[0][0]
    pinhole = np.array(image_from_camera).reshape(3, 3).T
    np.testing.assert_allclose(pinhole, np.array(p).reshape(3, 4)[:, :3])


def test_launch_file_compiles_and_sets_every_node_parameter(tmp_path):
    py_compile.compile(str(LAUNCH_FILE), cfile=str(tmp_path / "launch.pyc"), doraise=True)
    tree = ast.parse(LAUNCH_FILE.read_text())
    dict_keys = {key.value for node in ast.walk(tree) if isinstance(node, ast.Dict) for key in node.keys
                 if isinstance(key, ast.Constant)}  # fmt: skip
    assert set(NODE_PARAMETERS) <= dict_keys
