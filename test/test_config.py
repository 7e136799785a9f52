"""`ros2-rerun-bridge check-config`: valid files pass; every invalid one exits 2 naming the file and the key path."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bridge.cli import main

REPO = Path(__file__).resolve().parents[1]

VALID = """
recording:
  application_id: my_robot
  sinks:
    file: robot.rrd
    serve: {grpc_port: 9877, web_port: null}
auto: false
include: ['/camera/.*']
exclude: ['.*/ir/.*']
topics:
  /camera/depth/image_rect_raw:
    entity_path: /camera/depth
    kind: depth
    meter: 1000
    colormap: turbo
    depth_range: [0.2, 5.0]
    max_rate: 15
  /camera/color/camera_info:
    intrinsics: P
    frame_id: camera_color_optical_frame
  /camera/color/image_raw/compressed: {kind: compressed, qos: reliable, queue_size: 4}
"""

# (what is wrong, file content, what the message must say after the file name)
INVALID = [
    ("unknown key", "topics:\n  /camera/depth:\n    metre: 1000\n", "topics./camera/depth.metre: unknown key"),
    ("unknown top-level key", "topic:\n  /camera/depth: {}\n", "topic: unknown key"),
    ("unknown sink", "recording:\n  sinks: {viewer: true}\n", "recording.sinks.viewer: unknown key"),
    ("wrong type", "auto: 'yes'\n", "auto: expected a boolean, got a string"),
    ("wrong nested type", "topics:\n  /camera/depth: {max_rate: fast}\n", "topics./camera/depth.max_rate: expected a number"),
    ("topics not a mapping", "topics: [/camera/depth]\n", "topics: expected a mapping, got a list"),
    ("negative meter", "topics:\n  /camera/depth: {meter: -1000}\n", "topics./camera/depth.meter: expected a positive"),
    ("zero max_rate", "topics:\n  /camera/depth: {max_rate: 0}\n", "topics./camera/depth.max_rate: expected a positive"),
    ("empty depth range", "topics:\n  /camera/depth: {depth_range: [5, 1]}\n", "topics./camera/depth.depth_range: expected [min, max]"),
    ("unknown kind", "topics:\n  /camera/depth: {kind: pointcloud}\n", "topics./camera/depth.kind: 'pointcloud' is not one of"),
    ("unknown colormap", "topics:\n  /camera/depth: {colormap: rainbow}\n", "topics./camera/depth.colormap: 'rainbow' is not one of"),
    ("relative topic name", "topics:\n  camera/depth: {}\n", "topics.camera/depth: topic names are absolute"),
    ("bad regex", "include: ['/camera/(']\n", "include: '/camera/(' is not a regular expression"),
    ("bad port", "recording:\n  sinks:\n    serve: {grpc_port: 70000}\n", "recording.sinks.serve.grpc_port: 70000 is not a TCP port"),
    ("zero queue", "topics:\n  /camera/depth: {queue_size: 0}\n", "topics./camera/depth.queue_size: must be at least 1"),
    ("invalid YAML", "topics:\n  /camera/depth: {meter: 1000\n", "not valid YAML"),
    ("duplicate topic", "topics:\n  /camera/depth: {meter: 1000}\n  /camera/depth: {meter: 1}\n", "duplicate key '/camera/depth'"),
]  # fmt: skip


def check_config(path: Path) -> int:
    return main(["check-config", str(path)])


def test_a_valid_config_passes(tmp_path, capsys):
    path = tmp_path / "bridge.yaml"
    path.write_text(VALID)
    assert check_config(path) == 0
    assert capsys.readouterr().out == f"{path}: valid (3 topics configured, auto=off)\n"


def test_an_empty_config_is_the_default(tmp_path, capsys):
    path = tmp_path / "empty.yaml"
    path.write_text("")
    assert check_config(path) == 0
    assert "valid (0 topics configured, auto=on)" in capsys.readouterr().out


@pytest.mark.parametrize(("content", "message"), [(c, m) for _, c, m in INVALID], ids=[name for name, _, _ in INVALID])
def test_an_invalid_config_exits_2_naming_file_and_key(tmp_path, caplog, content, message):
    path = tmp_path / "bridge.yaml"
    path.write_text(content)
    assert check_config(path) == 2
    (error,) = [r.getMessage() for r in caplog.records]
    assert error.startswith(f"{path}: ") and message in error, error


def test_a_missing_config_file(tmp_path, caplog):
    path = tmp_path / "nowhere.yaml"
    assert check_config(path) == 2
    assert f"{path}: cannot read" in caplog.text


def test_replay_with_an_invalid_config_stops_before_writing(tmp_path, caplog):
    config = tmp_path / "bridge.yaml"
    config.write_text("topics:\n  /camera/depth: {meter: -1}\n")
    assert main(["replay", str(tmp_path / "bag"), "-c", str(config), "-o", str(tmp_path / "out.rrd")]) == 2
    assert "topics./camera/depth.meter" in caplog.text
    assert not (tmp_path / "out.rrd").exists()


def test_check_config_as_a_real_process(tmp_path):
    path = tmp_path / "bridge.yaml"
    path.write_text("topics:\n  /camera/depth: {depth_range: [5, 1]}\n")
    done = subprocess.run(
        [sys.executable, "-m", "bridge", "check-config", str(path)],
        cwd=REPO, capture_output=True, text=True, timeout=60, env={**os.environ, "PYTHONPATH": str(REPO)},
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.strip() == f"ERROR: {path}: topics./camera/depth.depth_range: expected [min, max] with min < max, got [5, 1]"
