"""The same tree builds as an ament_python package with colcon, as in a ROS 2 workspace."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("colcon_core")
REPO = Path(__file__).resolve().parents[1]
PACKAGE = "ros2_rerun_bridge"


def test_colcon_build_installs_executables_launch_and_config(tmp_path):
    source = tmp_path / "src" / PACKAGE
    tracked = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True).stdout.split()
    for name in tracked:
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / name, source / name)

    colcon = Path(sys.executable).with_name("colcon")
    subprocess.run([str(colcon), "build", "--packages-select", PACKAGE], cwd=tmp_path, check=True,
                   capture_output=True)  # fmt: skip

    prefix = tmp_path / "install" / PACKAGE
    assert (prefix / "share/ament_index/resource_index/packages" / PACKAGE).exists()
    for executable in ("bridge_node", "ros2-rerun-bridge"):  # where `ros2 run` looks
        assert (prefix / "lib" / PACKAGE / executable).exists()
    assert (prefix / "share" / PACKAGE / "package.xml").exists()
    assert (prefix / "share" / PACKAGE / "launch/bridge.launch.py").exists()
    assert sorted(p.name for p in (prefix / "share" / PACKAGE / "config").iterdir()) == sorted(
        p.name for p in (REPO / "config").glob("*.yaml")
    )
    assert list(prefix.glob("lib/python3*/site-packages/bridge/sources/dds.py"))
