"""The bridge's recording: Rerun recording streams wired to the configured sinks.

rerun-sdk applies back-pressure across all the sinks of one stream: a viewer
that is not there, or goes away, fills its gRPC queue and then blocks every
`log` call, which would stall the file too. So the file and the served gRPC
server share one stream, and each viewer connection (spawn, connect) has a
stream of its own, fed by a thread from a bounded queue that drops rows when
the viewer does not keep up. All streams share one recording id, so a viewer
sees one recording.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import logging
import os
import queue
import shutil
import signal
import socket
import subprocess
import sys
import threading
import urllib.parse
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np
import rerun as rr
import rerun.blueprint as rrb

from ..config import RecordingConfig, ServeConfig
from .native import log_row
from .errors import SinkError
from .output import OutputFile

log = logging.getLogger("ros2_rerun_bridge")

VIEWER_PORT = 9876  # where `rerun` listens by default
VIEWER_QUEUE_ROWS = 32  # rows held for a viewer that lags, before its newest rows are dropped
WEB_VIEWER_START_S = 1.0  # a web viewer that has not failed by then is serving
CLOSE_TIMEOUT_S = 30.0  # for the file and server to take what is left
VIEWER_CLOSE_TIMEOUT_S = 5.0  # for a viewer, which may be gone
# Each chunk carries its headers and Arrow schema, about 3 KB: rerun-sdk's 200 ms batching gives a topic of small
# rows (CameraInfo at 30 Hz) a chunk every few rows. Written to a file alone, rows wait up to 2 s (or 2 MiB) to
# share one: the RGB-D bench bag with --video h264 1.8% smaller, its CameraInfo in 11 chunks instead of 65.
FILE_FLUSH_TICK_S = 2.0
DISK_FULL_BYTES = 16 << 20  # free space under which a file that stopped taking data is put down to a full disk
FILE_BATCHER = rr.ChunkBatcherConfig(flush_tick=FILE_FLUSH_TICK_S)

Times = Mapping[str, int]  # timeline -> timestamp in ns; None for static data


@dataclass
class _ViewerFeed:
    """One viewer's stream, logged to from its own thread so that it never blocks the bridge."""

    url: str
    stream: rr.RecordingStream
    rows: queue.Queue = field(default_factory=lambda: queue.Queue(VIEWER_QUEUE_ROWS))  # of Callable[[stream], None]
    dropped: int = 0
    thread: threading.Thread | None = None

    def start(self) -> None:
        self.thread = threading.Thread(target=self._forward, name=f"viewer {self.url}", daemon=True)
        self.thread.start()

    def put(self, send: Callable[[rr.RecordingStream], None]) -> None:
        try:
            self.rows.put_nowait(send)
        except queue.Full:
            if self.dropped == 0:
                log.warning("viewer %s is not keeping up (or is gone): dropping rows for it, not for other sinks", self.url)
            self.dropped += 1

    def close(self, timeout_s: float) -> None:
        """Send what is queued and disconnect, giving a viewer that is gone `timeout_s` for each step."""
        try:
            self.rows.put(None, timeout=timeout_s)
        except queue.Full:  # the viewer takes nothing: what waits for it is dropped, so that the thread ends
            with contextlib.suppress(queue.Empty):
                while True:
                    self.rows.get_nowait()
            self.rows.put(None)
        if self.thread is None:
            return
        # A thread still inside rerun-sdk when the interpreter exits aborts the process: when it comes back, it
        # cannot take the GIL any more. Its flush, then rerun-sdk's last connection attempt, take `timeout_s` each.
        self.thread.join(2 * timeout_s + 1)
        if self.thread.is_alive():
            # Blocked in a row for the gRPC queue of a viewer that is gone, which only a disconnect empties.
            self.stream.disconnect()
            self.thread.join(2 * timeout_s + 1)
        if self.thread.is_alive():
            log.warning("viewer %s: its stream is still closing", self.url)

    def _forward(self) -> None:
        while (send := self.rows.get()) is not None:
            send(self.stream)
        try:
            self.stream.flush(timeout_sec=VIEWER_CLOSE_TIMEOUT_S)
        except RuntimeError as err:
            log.warning("viewer %s: %s", self.url, err)
        self.stream.disconnect()


class Recording:
    """Where the bridge logs: the file and gRPC server stream, and one feed per viewer."""

    def __init__(self, config: RecordingConfig):
        self.recording_id = config.recording_id or str(uuid.uuid4())
        self.primary: rr.RecordingStream | None = None
        self.viewers: list[_ViewerFeed] = []
        self.output: OutputFile | None = None
        self.failure: str | None = None  # why the file or server stopped taking data, once they did
        self._draining: threading.Thread | None = None  # waiting for the sinks to take one backlog
        self._drain_lock = threading.Lock()
        sinks = config.sinks
        targets: list = []
        if sinks.file is not None:
            self.output = OutputFile(sinks.file)
            targets.append(rr.FileSink(str(self.output.writing)))
        if sinks.serve is not None:
            targets.append(rr.GrpcServerSink(bind_ip=sinks.serve.bind, port=sinks.serve.grpc_port))
        if targets:
            # A file alone has nobody waiting for its rows: they wait up to FILE_FLUSH_TICK_S to share a chunk
            self.primary = self._stream(config, FILE_BATCHER if sinks.serve is None else None)
            try:
                self.primary.set_sinks(*targets)
            except RuntimeError as err:  # the file cannot take its header (/dev/full), the port is taken
                if self.output is not None:
                    self.output.finish(keep=False)
                where = [str(sinks.file)] if sinks.file is not None else []
                where += [f"gRPC server {sinks.serve.bind}:{sinks.serve.grpc_port}"] if sinks.serve is not None else []
                raise SinkError(f"cannot set up the recording's sinks ({', '.join(where)}): {err}") from None
        if sinks.spawn:
            self._spawn_viewer(config)
        if sinks.connect:
            self._connect_viewer(config, sinks.connect)
        if self.primary is None and not self.viewers:
            raise SinkError("nowhere to send the recording: give an output file, a viewer to spawn or connect to, or --serve")
        self.web_viewer: subprocess.Popen | None = None
        self.served: list[str] = []  # where viewers can connect, for the user: "gRPC at ...", "web viewer at ..."
        if sinks.serve is not None:
            self.web_viewer = _serve_web_viewer(sinks.serve)
            self.served.append(f"gRPC at {_grpc_url(sinks.serve)} (bound to {sinks.serve.bind})")
            if self.web_viewer is not None:
                self.served.append(f"web viewer at {_web_viewer_url(sinks.serve)}")

    def log(self, entity_path: str, *archetypes: Any, times: Times | None) -> None:
        """Log one row at `times` (timeline -> ns), or as static data when `times` is None."""
        self._send(functools.partial(log_row, entity_path=entity_path, archetypes=archetypes, times=times))

    def send_columns(self, entity_path: str, columns: rr.ComponentColumnList, rows: int, times: Times | None) -> None:
        """Log `rows` rows at once, all at `times` (timeline -> ns), or as static data when `times` is None."""
        indexes = [] if times is None else [
            rr.TimeColumn(timeline, timestamp=np.full(rows, ns, dtype="datetime64[ns]")) for timeline, ns in times.items()
        ]  # fmt: skip
        self._send(lambda stream: stream.send_columns(entity_path, indexes=indexes, columns=columns))

    def send_blueprint(self, blueprint: rrb.Blueprint) -> None:
        """The layout viewers show (made active: a viewer's automatic layout would overlay aligned depth on colour)."""
        self._send(lambda stream: stream.send_blueprint(blueprint, make_active=True, make_default=True))

    def _send(self, send: Callable[[rr.RecordingStream], None]) -> None:
        if self.primary is not None:
            send(self.primary)
        for viewer in self.viewers:
            viewer.put(send)

    def flush(self, timeout_s: float = CLOSE_TIMEOUT_S) -> None:
        """Wait until the file and server have taken everything logged so far (viewers are not waited for)."""
        if self.primary is not None and self.failure is None:
            try:
                self.primary.flush(timeout_sec=timeout_s)
            except RuntimeError as err:  # a full disk: rerun-sdk's file writer stops, and says so here
                self.failure = self._why_stopped(err)
                log.error("the recording's file or server stopped taking data: %s", self.failure)

    def _why_stopped(self, err: RuntimeError) -> str:
        """rerun-sdk says only that its flush timed out; a full disk is the usual reason, and can be seen."""
        if self.output is not None:
            folder = self.output.writing.parent
            with contextlib.suppress(OSError):
                if shutil.disk_usage(folder).free < DISK_FULL_BYTES:
                    return f"no space left on the disk of {folder} ({err})"
        return str(err)

    def drain(self) -> None:
        """Bound what the file and server have yet to take, without waiting for them to run dry.

        rerun-sdk's sinks queue without bound, so a producer that outpaces the file (a bag read faster
        than the disk writes) must wait for it now and then. This waits for what was logged before the
        previous call, and starts waiting, in the background, for what was logged since: the file's
        writer always has the next backlog to work on, and a caller it keeps up with never waits.
        """
        with self._drain_lock:
            if self._draining is not None:
                self._draining.join()
            self._draining = threading.Thread(target=self.flush, name="recording drain", daemon=True)
            self._draining.start()

    def close(self, keep_file: bool = True) -> None:
        """Complete the file (footer included) and disconnect every sink.

        The file is renamed into place when `keep_file`, and removed otherwise (nothing worth keeping).
        """
        for viewer in self.viewers:
            viewer.close(VIEWER_CLOSE_TIMEOUT_S)
        with self._drain_lock:
            if self._draining is not None:
                self._draining.join()
        if self.primary is not None:
            self.flush()
            if self.failure is None:
                self.primary.disconnect()
            else:
                _abandon(self.primary)
        if self.output is not None:
            self.output.finish(keep_file)
        if self.web_viewer is not None:
            self.web_viewer.terminate()
            self.web_viewer.wait()

    def _stream(self, config: RecordingConfig, batcher: rr.ChunkBatcherConfig | None = None) -> rr.RecordingStream:
        return rr.RecordingStream(config.application_id, recording_id=self.recording_id, batcher_config=batcher)

    def _spawn_viewer(self, config: RecordingConfig) -> None:
        if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
            log.warning("--spawn: no display here (DISPLAY and WAYLAND_DISPLAY are unset), so no viewer can open: "
                        "serve a web viewer with --serve, or write a file with -o and open it with `rerun FILE`")  # fmt: skip
            return
        stream = self._stream(config)
        try:
            rr.spawn(port=VIEWER_PORT, connect=False, recording=stream, executable_path=str(rerun_executable()))
        except Exception as err:  # no viewer binary, no display: the other sinks go on
            log.warning("cannot spawn a Rerun viewer: %s", err)
            return
        self._add_viewer(stream, f"rerun+http://127.0.0.1:{VIEWER_PORT}/proxy")

    def _connect_viewer(self, config: RecordingConfig, url: str) -> None:
        if not _listening(url):
            log.warning("viewer %s: nothing listens there now; its rows wait for a viewer that starts there, and are "
                        "dropped when none has by the end", url)  # fmt: skip
        self._add_viewer(self._stream(config), url)

    def _add_viewer(self, stream: rr.RecordingStream, url: str) -> None:
        stream.set_sinks(rr.GrpcSink(url))
        viewer = _ViewerFeed(url, stream)
        viewer.start()
        self.viewers.append(viewer)


def _listening(url: str) -> bool:
    """Whether something accepts connections at a viewer URL's host and port (Rerun's gRPC default port: 9876)."""
    parts = urllib.parse.urlsplit(url.replace("rerun+", "", 1))
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 9876), timeout=1.0):
            return True
    except OSError:
        return False


def _abandon(stream: rr.RecordingStream) -> None:
    """Let go of a stream whose file stopped taking data, without waiting for it.

    rerun-sdk's file writer that fails while a flush is pending never answers it: the stream's thread
    then waits for ever, and so would `disconnect()` and rerun-sdk's own shutdown at exit (the process
    would hang on a full disk, deaf to SIGTERM). Disconnect in a daemon thread, which holds the stream
    so that it is never dropped (its drop would wait too), and give up rerun-sdk's shutdown at exit.
    """
    rr.unregister_shutdown()
    threading.Thread(target=stream.disconnect, name="abandoned recording", daemon=True).start()


def rerun_executable() -> Path | str:
    """The `rerun` viewer rerun-sdk installed beside this Python (an unactivated venv has it there), else PATH's."""
    beside = Path(sys.executable).with_name("rerun")
    return beside if beside.exists() else "rerun"


def _viewer_binary() -> Path | str:
    """Rerun's own binary, to run as a child that ends with the bridge.

    The `rerun` that rerun-sdk installs in a venv's bin is a Python script (rerun_cli) that runs the binary as
    its own child: terminating the script, or the script ending with its parent, left the binary serving.
    """
    if override := os.environ.get("RERUN_CLI_PATH"):  # as rerun_cli honours it
        return override
    try:
        import rerun_cli
    except ImportError:
        return rerun_executable()
    folder = Path(rerun_cli.__file__).parent
    for binary in (folder / "Rerun.app" / "Contents" / "MacOS" / "Rerun", folder / "rerun", folder / "rerun.exe"):
        if binary.is_file():
            return binary
    return rerun_executable()


def _end_with_parent() -> None:
    """In a child process: be sent SIGTERM when the bridge ends, however it ends (Linux's PR_SET_PDEATHSIG)."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None).prctl(1, signal.SIGTERM)


def _grpc_url(serve: ServeConfig) -> str:
    return f"rerun+http://127.0.0.1:{serve.grpc_port}/proxy"


def _web_viewer_url(serve: ServeConfig) -> str:
    return f"http://{serve.bind}:{serve.web_port}/?url={_grpc_url(serve)}"


def _serve_web_viewer(serve: ServeConfig) -> subprocess.Popen | None:
    """Rerun's web viewer, pointed at the gRPC server, on the same address: the `rerun` CLI can bind it
    (rerun-sdk's `serve_web_viewer` always listens on every interface)."""
    grpc_url = _grpc_url(serve)
    log.info("serving gRPC at %s on %s", grpc_url, serve.bind)
    if serve.web_port is None:
        return None
    command = [str(_viewer_binary()), "--serve-web", "--bind", serve.bind, "--web-viewer-port", str(serve.web_port), grpc_url]
    try:
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                   preexec_fn=_end_with_parent)  # fmt: skip
    except OSError as err:
        log.warning("cannot serve the web viewer: %s: %s (gRPC viewers can still connect)", command[0], err.strerror)
        return None
    try:
        _, stderr = process.communicate(timeout=WEB_VIEWER_START_S)
    except subprocess.TimeoutExpired:  # still serving: it started
        process.stderr.close()
        log.info("web viewer at %s", _web_viewer_url(serve))
        return process
    log.warning("cannot serve the web viewer on %s:%d (gRPC viewers can still connect): %s",
                serve.bind, serve.web_port, stderr.decode(errors="replace").strip().splitlines()[-1:])  # fmt: skip
    return None
