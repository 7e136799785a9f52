"""The command line's start-up cuts (bridge/startup.py) still work with the installed pyarrow and rerun-sdk, and
`convert`'s dispatching process imports none of them.

They reach below pyarrow's public API: this fails loudly when an upgrade changes what they rely on.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from cli_process import REPO
from recordings import image_msg, write_bag

BUILD_WHAT_THE_BRIDGE_BUILDS = """
import sys
from bridge.startup import keep_pandas_out_of_pyarrow
keep_pandas_out_of_pyarrow()
import numpy as np, pyarrow as pa, rerun as rr, rerun.blueprint as rrb
rr.Transform3D.from_fields(translation=[(1.0, 2.0, 3.0)], parent_frame=["a"], child_frame=["b"])
rr.Pinhole(image_from_camera=np.eye(3), resolution=[640, 480], parent_frame="cam", child_frame="cam_image_plane")
rrb.Blueprint(rrb.Horizontal(rrb.Spatial3DView(origin="/"), rrb.Spatial2DView(origin="/cam")))
assert pa.array([1, 2]).to_pylist() == [1, 2]
print("pandas" in sys.modules)
"""


def test_pyarrow_never_imports_pandas_for_what_the_bridge_builds() -> None:
    pytest.importorskip("pandas")  # installed (rerun-sdk[catalog] brings it), so there is an import to avoid
    result = subprocess.run([sys.executable, "-c", BUILD_WHAT_THE_BRIDGE_BUILDS], cwd=REPO, capture_output=True,
                            text=True, timeout=120)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False", "pyarrow imported pandas: bridge/startup.py no longer keeps it out"


CONVERT_AND_LIST_HEAVY_IMPORTS = """
import sys
from bridge.cli import main
status = main(["convert", "--no-progress", "-q", "--jobs", "1", sys.argv[1], "-o", sys.argv[2]])
print(status, sorted(m for m in ("rerun", "pyarrow", "numpy", "rosbags.highlevel") if m in sys.modules))
"""


def test_converts_dispatching_process_leaves_rerun_sdk_to_its_workers(tmp_path):
    """Its workers import rerun-sdk (a second); the process that hands them the bags never needs it."""
    write_bag(tmp_path / "bags" / "run", [("/cam", image_msg(np.zeros((4, 4, 3), np.uint8), "rgb8", 1), 1)])
    result = subprocess.run([sys.executable, "-c", CONVERT_AND_LIST_HEAVY_IMPORTS, tmp_path / "bags", tmp_path / "out"],
                            cwd=REPO, capture_output=True, text=True, timeout=120)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["0", "[]"]
    assert (tmp_path / "out" / "run.rrd").exists()
