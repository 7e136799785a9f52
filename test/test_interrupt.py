"""Stopping a real-time replay (Ctrl-C, SIGTERM) still leaves a complete recording of what was converted."""

from __future__ import annotations

import re
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from cli_process import running_bridge
from recordings import image_msg, read_recording, write_bag

T0 = 1_700_000_000_000_000_000
PERIOD = 200_000_000  # 5 Hz
FRAMES = 30  # 6 s at --rate 1


def pixels(i: int) -> np.ndarray:
    return np.full((24, 32, 3), i, np.uint8)


def wait_for(path: Path, process: subprocess.Popen, timeout: float = 60.0) -> None:
    """Until the recording `path` is being written (as `.NAME.partial` beside it): the replay has begun."""
    deadline = time.monotonic() + timeout
    while not path.with_name(f".{path.name}.partial").exists():
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.05)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_stopped_replay_leaves_a_complete_recording(tmp_path, signum):
    bag = write_bag(tmp_path / "bag", [("/cam/color", image_msg(pixels(i), "rgb8", T0 + i * PERIOD), T0 + i * PERIOD)
                                       for i in range(FRAMES)])  # fmt: skip
    rrd = tmp_path / "out.rrd"
    with running_bridge("replay", bag, "-o", rrd, "--rate", "1") as process:
        wait_for(rrd, process)
        time.sleep(3.0)  # mid-replay even when start-up (the file exists before the bag is open) is slow
        process.send_signal(signum)
        _, stderr = process.communicate(timeout=60)

    assert process.returncode == 130, stderr
    assert "interrupted: closing the recording" in stderr
    table = read_recording(rrd)
    stamps = table.column("ros2_timestamp").cast(pa.int64()).to_pylist()
    buffers = [bytes(cell[0]) for cell in table.column("/cam/color:Image:buffer").to_pylist()]
    converted = len(stamps)
    assert 0 < converted < FRAMES
    assert re.search(rf"^/cam/color: \d+ received, {converted} logged", stderr, re.MULTILINE), stderr
    assert stamps == [T0 + i * PERIOD for i in range(converted)]
    assert buffers == [pixels(i).tobytes() for i in range(converted)]
