"""A Rerun recording stream wired to the configured sinks."""

from __future__ import annotations

import logging

import rerun as rr

from ..config import RecordingConfig

log = logging.getLogger("ros2_rerun_bridge")

VIEWER_PORT = 9876  # where `rerun` listens by default


class SinkError(RuntimeError):
    """No sink could be set up: nowhere to send the recording."""


def open_recording(config: RecordingConfig) -> rr.RecordingStream:
    """A recording sending to every sink in `config` (a file, viewers, servers) at once."""
    recording = rr.RecordingStream(config.application_id, recording_id=config.recording_id)
    sinks = config.sinks
    targets: list = []
    if sinks.file is not None:
        sinks.file.parent.mkdir(parents=True, exist_ok=True)
        targets.append(rr.FileSink(str(sinks.file)))
    if sinks.spawn:
        try:
            rr.spawn(port=VIEWER_PORT, connect=False, recording=recording)
            targets.append(rr.GrpcSink(f"rerun+http://127.0.0.1:{VIEWER_PORT}/proxy"))
        except Exception as err:  # no viewer binary, no display: the other sinks go on
            log.warning("cannot spawn a Rerun viewer: %s", err)
    if sinks.connect:
        targets.append(rr.GrpcSink(sinks.connect))
    if sinks.serve is not None:
        targets.append(rr.GrpcServerSink(port=sinks.serve.grpc_port))
    if not targets:
        raise SinkError("nowhere to send the recording: give an output file, a viewer to spawn or connect to, or --serve")
    recording.set_sinks(*targets)
    if sinks.serve is not None:
        grpc_url = f"rerun+http://127.0.0.1:{sinks.serve.grpc_port}/proxy"
        log.info("serving gRPC at %s", grpc_url)
        if sinks.serve.web_port is not None:
            rr.serve_web_viewer(web_port=sinks.serve.web_port, open_browser=False, connect_to=grpc_url)
            log.info("web viewer at http://127.0.0.1:%d/?url=%s", sinks.serve.web_port, grpc_url)
    return recording


def close_recording(recording: rr.RecordingStream, timeout_sec: float = 30.0) -> None:
    """Flush everything and close the sinks, so that a `.rrd` file is complete (footer included)."""
    try:
        recording.flush(timeout_sec=timeout_sec)
    except Exception as err:  # a viewer that went away must not keep the file from closing
        log.warning("flushing the recording: %s", err)
    recording.disconnect()
