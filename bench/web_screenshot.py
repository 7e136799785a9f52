"""A screenshot of a recording in Rerun's web viewer, in headless Chromium (for docs/*.png).

    .venv/bin/python -m bench.web_screenshot RECORDING.rrd OUT.png [--steps N] [--load 150] [--settle 60]

Needs, besides this package's venv (rerun-sdk's `rerun` command serves the recording and the viewer):
- Chromium (`--chromium`, default /usr/bin/chromium; Debian's `chromium` package decodes H.264, AV1 and
  VP9 with WebCodecs, not H.265);
- Node.js (`node` on PATH) with playwright-core (`npm install playwright-core`; give its node_modules
  folder with `--node-path` or NODE_PATH).

Steps: `rerun --serve-web` serves the recording and the viewer on 127.0.0.1 (free ports); Chromium renders
it with SwiftShader (no GPU: one frame takes seconds); after `--load` seconds for the data to stream in,
the timeline is paused (a video view whose time moves on before the decoder answers stays blank), with
`--steps N` moved to the Nth logged time from the start (arrow key steps, over the data loaded by then),
and after `--settle` seconds the page is captured. Nothing leaves the machine: the browser's requests to anything but 127.0.0.1 (fonts,
analytics, update checks) are blocked, and listed in the console log (OUT.console.log) with the viewer's
own messages, where decoding errors would show.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

DRIVER = Path(__file__).with_name("web_screenshot.js")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.web_screenshot", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("recording", type=Path)
    parser.add_argument("out", type=Path, help="the PNG to write")
    parser.add_argument("--steps", type=int, default=None, metavar="N",
                        help="show the Nth logged time from the start (default: where playback was paused)")  # fmt: skip
    parser.add_argument("--load", type=float, default=150.0, metavar="S",
                        help="seconds for the data to stream in (the demo's 10 MB: about 150 on a loaded 2-core machine)")
    parser.add_argument("--settle", type=float, default=60.0, metavar="S", help="seconds to decode after pausing")
    parser.add_argument("--size", default="1600x1000", help="the page's size, WIDTHxHEIGHT")
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    parser.add_argument("--node-path", default=os.environ.get("NODE_PATH"), help="node_modules holding playwright-core")
    args = parser.parse_args(argv)
    missing = missing_tools(args.chromium, args.node_path)
    if missing:
        print(f"web_screenshot needs {missing}", file=sys.stderr)
        return 2
    width, height = (int(side) for side in args.size.split("x"))
    console = args.out.with_suffix(".console.log")
    screenshot(args.recording, args.out, console, args.chromium, args.node_path, (width, height), args.steps, args.load, args.settle)
    print(f"wrote {args.out} (the viewer's console: {console})")
    return 0


def missing_tools(chromium: str, node_path: str | None) -> str | None:
    """What of Chromium, Node.js and playwright-core is not there; None when all are."""
    if not Path(chromium).exists():
        return f"Chromium ({chromium} does not exist; --chromium PATH)"
    if shutil.which("node") is None:
        return "Node.js (node on PATH)"
    probe = subprocess.run(["node", "-e", "require('playwright-core')"], env=_node_env(node_path), capture_output=True)
    if probe.returncode != 0:
        return "playwright-core for Node.js (npm install playwright-core; --node-path DIR/node_modules)"
    return None


def screenshot(recording: Path, out: Path, console: Path, chromium: str, node_path: str | None,
               size: tuple[int, int], steps: int | None, load_s: float, settle_s: float) -> None:  # fmt: skip
    """Serve `recording` with its web viewer on loopback, and capture the page into `out`."""
    web_port, grpc_port = _free_port(), _free_port()
    rerun = Path(sys.executable).with_name("rerun")
    with tempfile.TemporaryFile() as server_log:
        server = subprocess.Popen([str(rerun), "--serve-web", "--bind", "127.0.0.1", "--web-viewer-port", str(web_port),
                                   "--port", str(grpc_port), str(recording)], stdout=server_log, stderr=subprocess.STDOUT,
                                  start_new_session=True)  # fmt: skip
        try:
            _wait_for_port(web_port, server)
            viewer = f"http://127.0.0.1:{web_port}/?url={quote(f'rerun+http://127.0.0.1:{grpc_port}/proxy', safe='')}"
            settings = {"url": viewer, "out": str(out), "console": str(console), "chromium": chromium,
                        "width": size[0], "height": size[1], "loadSeconds": load_s, "steps": steps,
                        "settleSeconds": settle_s}  # fmt: skip
            subprocess.run(["node", str(DRIVER), json.dumps(settings)], env=_node_env(node_path), check=True)
        finally:  # the `rerun` script runs the viewer's server as its child: end the session's group
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)


def _node_env(node_path: str | None) -> dict[str, str]:
    return {**os.environ, **({"NODE_PATH": node_path} if node_path else {})}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_for_port(port: int, server: subprocess.Popen, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"rerun --serve-web did not listen on 127.0.0.1:{port}") from None
            time.sleep(0.2)


if __name__ == "__main__":
    sys.exit(main())
