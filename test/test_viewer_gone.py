"""A viewer that goes away mid-stream stops neither the bridge nor its file sink."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from cli_process import running_bridge
from ports import free_port, wait_for_port
from recordings import image_msg, read_recording, rows, write_bag

T0 = 1_700_000_000_000_000_000
PERIOD = 100_000_000  # 10 Hz: 3 s at --rate 1
FRAMES = 30


def test_replay_goes_on_when_the_viewer_it_streams_to_is_killed(tmp_path):
    frames = [np.full((24, 32, 3), i, np.uint8) for i in range(FRAMES)]
    bag = write_bag(tmp_path / "bag", [("/cam", image_msg(f, "rgb8", T0 + i * PERIOD), T0 + i * PERIOD)
                                       for i, f in enumerate(frames)])  # fmt: skip
    port = free_port()
    # Rerun's own message proxy, as a viewer machine runs it: `rerun --serve-grpc`.
    # In its own process group: the `rerun` entry point runs the viewer binary as a child, and both must go.
    viewer = subprocess.Popen([str(Path(sys.executable).with_name("rerun")), "--serve-grpc", "--port", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)  # fmt: skip
    try:
        wait_for_port(port)
        rrd = tmp_path / "out.rrd"
        connect = ("--connect", f"rerun+http://127.0.0.1:{port}/proxy")
        with running_bridge("replay", bag, "-o", rrd, "--rate", "1", *connect) as bridge:
            time.sleep(2.0)
            os.killpg(viewer.pid, signal.SIGKILL)
            viewer.wait()
            wait_for_port(port, up=False)
            _, stderr = bridge.communicate(timeout=120)
    finally:
        if viewer.poll() is None:
            os.killpg(viewer.pid, signal.SIGKILL)
            viewer.wait()

    assert bridge.returncode == 0, stderr
    assert f"/cam: {FRAMES} received, {FRAMES} logged" in stderr
    buffers = read_recording(rrd).column("/cam:Image:buffer").to_pylist()
    assert [bytes(cell[0]) for cell in buffers] == [f.tobytes() for f in frames]


def test_a_viewer_that_is_not_there_does_not_stall_the_file_beyond_its_grpc_queue(tmp_path):
    """More than rerun-sdk's gRPC queue holds (about 250 MB): the viewer's stream must not hold up the file's."""
    frame = np.random.default_rng(0).integers(0, 255, (720, 1280, 3), np.uint8)
    count = 130  # 360 MB of rgb8
    bag = write_bag(tmp_path / "bag", (("/cam", image_msg(frame, "rgb8", T0 + i * PERIOD), T0 + i * PERIOD)
                                       for i in range(count)))  # one message at a time  # fmt: skip
    rrd = tmp_path / "out.rrd"
    with running_bridge("replay", bag, "-o", rrd, "--connect", f"rerun+http://127.0.0.1:{free_port()}/proxy") as bridge:
        _, stderr = bridge.communicate(timeout=300)
    assert bridge.returncode == 0, stderr
    assert f"/cam: {count} received, {count} logged" in stderr
    frames = rows(rrd, "/cam:Image:buffer")  # a chunk at a time: 360 MB read whole would take several times that
    stamps = [stamp for stamp, cell in frames if np.array_equal(cell.values[0].values.to_numpy(), frame.ravel())]
    assert sorted(stamps) == [T0 + i * PERIOD for i in range(count)]  # every frame, intact
