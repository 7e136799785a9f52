"""`replay --serve`: a gRPC server and a web viewer on loopback, kept up after the replay until Ctrl-C."""

from __future__ import annotations

import signal
import urllib.request

import numpy as np
from cli_process import read_until, running_bridge
from ports import free_port, listening
from recordings import image_msg, read_recording, write_bag

T0 = 1_700_000_000_000_000_000


def test_serve_keeps_serving_until_ctrl_c_and_the_file_is_complete(tmp_path):
    frames = [np.full((24, 32, 3), i, np.uint8) for i in range(5)]
    bag = write_bag(tmp_path / "bag", [("/cam", image_msg(f, "rgb8", T0 + i), T0 + i) for i, f in enumerate(frames)])
    rrd, grpc_port, web_port = tmp_path / "out.rrd", free_port(), free_port()
    serve = ("--serve", "--grpc-port", grpc_port, "--web-port", web_port, "--bind", "127.0.0.1")
    with running_bridge("replay", bag, "-o", rrd, *serve) as process:
        started = read_until(process, "still serving")
        assert f"serving: web viewer at http://127.0.0.1:{web_port}/?url=rerun+http://127.0.0.1:{grpc_port}/proxy" in started
        assert f"serving: gRPC at rerun+http://127.0.0.1:{grpc_port}/proxy" in started
        with urllib.request.urlopen(f"http://127.0.0.1:{web_port}/", timeout=10) as page:
            assert page.status == 200  # the web viewer
        assert listening(grpc_port)  # the gRPC server viewers connect to
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=60)

    assert process.returncode == 0
    buffers = read_recording(rrd).column("/cam:Image:buffer").to_pylist()
    assert [bytes(cell[0]) for cell in buffers] == [f.tobytes() for f in frames]

