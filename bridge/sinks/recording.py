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

import functools
import logging
import queue
import sys
import threading
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np
import rerun as rr
import rerun.blueprint as rrb

from ..config import RecordingConfig

log = logging.getLogger("ros2_rerun_bridge")

VIEWER_PORT = 9876  # where `rerun` listens by default
VIEWER_QUEUE_ROWS = 32  # rows held for a viewer that lags, before its newest rows are dropped
CLOSE_TIMEOUT_S = 30.0  # for the file and server to take what is left
VIEWER_CLOSE_TIMEOUT_S = 5.0  # for a viewer, which may be gone

Times = Mapping[str, int]  # timeline -> timestamp in ns; None for static data


class SinkError(RuntimeError):
    """No sink could be set up: nowhere to send the recording."""


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
        """Send what is queued and disconnect, waiting at most `timeout_s` for a viewer that is gone."""
        try:
            self.rows.put(None, timeout=timeout_s)
        except queue.Full:
            return
        if self.thread is not None:
            self.thread.join(timeout_s)

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
        self._flush_failed = False
        self._draining: threading.Thread | None = None  # waiting for the sinks to take one backlog
        self._drain_lock = threading.Lock()
        sinks = config.sinks
        targets: list = []
        if sinks.file is not None:
            sinks.file.parent.mkdir(parents=True, exist_ok=True)
            targets.append(rr.FileSink(str(sinks.file)))
        if sinks.serve is not None:
            targets.append(rr.GrpcServerSink(bind_ip=sinks.serve.bind, port=sinks.serve.grpc_port))
        if targets:
            self.primary = self._stream(config)
            self.primary.set_sinks(*targets)
        if sinks.spawn:
            self._spawn_viewer(config)
        if sinks.connect:
            self._connect_viewer(config, sinks.connect)
        if self.primary is None and not self.viewers:
            raise SinkError("nowhere to send the recording: give an output file, a viewer to spawn or connect to, or --serve")
        if sinks.serve is not None:
            _serve_web_viewer(sinks.serve.grpc_port, sinks.serve.web_port)

    def log(self, entity_path: str, *archetypes: Any, times: Times | None) -> None:
        """Log one row at `times` (timeline -> ns), or as static data when `times` is None."""
        self._send(functools.partial(_log, entity_path=entity_path, archetypes=archetypes, times=times))

    def send_blueprint(self, blueprint: rrb.Blueprint) -> None:
        """The layout viewers start with (the user's own layout, once changed, stays)."""
        self._send(lambda stream: stream.send_blueprint(blueprint, make_active=False, make_default=True))

    def _send(self, send: Callable[[rr.RecordingStream], None]) -> None:
        if self.primary is not None:
            send(self.primary)
        for viewer in self.viewers:
            viewer.put(send)

    def flush(self, timeout_s: float = CLOSE_TIMEOUT_S) -> None:
        """Wait until the file and server have taken everything logged so far (viewers are not waited for)."""
        if self.primary is not None and not self._flush_failed:
            try:
                self.primary.flush(timeout_sec=timeout_s)
            except RuntimeError as err:  # rerun-sdk reports a failing sink once, then would block every flush
                self._flush_failed = True
                log.warning("a sink is not taking data: %s", err)

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

    def close(self) -> None:
        """Complete the file (footer included) and disconnect every sink."""
        for viewer in self.viewers:
            viewer.close(VIEWER_CLOSE_TIMEOUT_S)
        with self._drain_lock:
            if self._draining is not None:
                self._draining.join()
        if self.primary is not None:
            self.flush()
            self.primary.disconnect()

    def _stream(self, config: RecordingConfig) -> rr.RecordingStream:
        return rr.RecordingStream(config.application_id, recording_id=self.recording_id)

    def _spawn_viewer(self, config: RecordingConfig) -> None:
        stream = self._stream(config)
        # The viewer rerun-sdk installed beside this Python, so that an unactivated venv finds it too.
        beside = Path(sys.executable).with_name("rerun")
        try:
            rr.spawn(port=VIEWER_PORT, connect=False, recording=stream,
                     executable_path=str(beside) if beside.exists() else None)  # fmt: skip
        except Exception as err:  # no viewer binary, no display: the other sinks go on
            log.warning("cannot spawn a Rerun viewer: %s", err)
            return
        self._add_viewer(stream, f"rerun+http://127.0.0.1:{VIEWER_PORT}/proxy")

    def _connect_viewer(self, config: RecordingConfig, url: str) -> None:
        self._add_viewer(self._stream(config), url)

    def _add_viewer(self, stream: rr.RecordingStream, url: str) -> None:
        stream.set_sinks(rr.GrpcSink(url))
        viewer = _ViewerFeed(url, stream)
        viewer.start()
        self.viewers.append(viewer)


def _log(stream: rr.RecordingStream, *, entity_path: str, archetypes: tuple, times: Times | None) -> None:
    if times is None:
        stream.log(entity_path, *archetypes, static=True)
        return
    for timeline, ns in times.items():
        stream.set_time(timeline, timestamp=np.datetime64(ns, "ns"))
    stream.log(entity_path, *archetypes)


def _serve_web_viewer(grpc_port: int, web_port: int | None) -> None:
    grpc_url = f"rerun+http://127.0.0.1:{grpc_port}/proxy"
    log.info("serving gRPC at %s", grpc_url)
    if web_port is None:
        return
    try:
        rr.serve_web_viewer(web_port=web_port, open_browser=False, connect_to=grpc_url)
        log.info("web viewer at http://127.0.0.1:%d/?url=%s", web_port, grpc_url)
    except RuntimeError as err:  # the port is taken: gRPC viewers can still connect
        log.warning("cannot serve the web viewer on port %d: %s", web_port, err)
