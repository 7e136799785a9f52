"""Live benchmarks: what one message costs the bridge, and how it holds a camera load over DDS.

Conversion cost: `Bridge.handle` on already-deserialized messages, with the
recording writing to a file. A case's first message is timed apart (it pays
for modules imported on first use), then each of the next ones. Rerun logs
asynchronously, so "sustained" adds the final flush to the total: what a
stream costs when the file sink has to keep up.

DDS load: `ros2-rerun-bridge live` and `bench.dds_load` as two processes on
loopback (Cyclone DDS restricted to `lo`, a random ROS_DOMAIN_ID), frames
stamped when sent, so that the bridge's latency is end to end.
"""

from __future__ import annotations

import json
import os
import random
import re
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable

import numpy as np
import yaml

from bridge.config import BridgeConfig, SinksConfig
from bridge.core import Bridge
from bridge.sinks import Recording

from . import messages as m
from .dds_load import COLOUR_SIZE, DEPTH_SIZE, camera_topics
from .measure import BenchError, Measurement, run_measured

PERIOD_NS = 33_333_333
RMEM_MAX = Path("/proc/sys/net/core/rmem_max")
BRIDGE_MARGIN_S = 12.0  # the bridge outlives the load by this: both start-ups and the readers' matching
# The node's lines come behind its logger's prefix; the last line of a topic is its total.
_SUMMARY_LINE = re.compile(r"(?P<topic>/\S+): (?P<received>\d+) received, (?P<logged>\d+) logged(?P<rest>.*)$")


# -- conversion cost ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ConversionCase:
    name: str
    topic: str
    msg: Any


@dataclass(frozen=True)
class ConversionCost:
    case: str
    first_ms: float  # the case's first message, left out of the statistics
    median_ms: float
    p99_ms: float
    sustained_ms: float  # (every call + the final flush) / count
    with_cdr_median_ms: float  # `handle_cdr`: deserializing the CDR bytes too, as live transports do


def conversion_cases() -> list[ConversionCase]:
    colour = m.render_colour(1920, 1080, 0)
    depth = m.render_depth(848, 480, 0)

    def compressed(payload: bytes, fmt: str, frame_id: str) -> Any:
        return m.compressed_msg(payload, fmt, 0, frame_id)

    return [
        ConversionCase("rgb8 1920x1080 Image", "/camera/color/image_raw",
                       m.image_msg(colour, "rgb8", 0, m.FRAME_ID_COLOUR)),
        ConversionCase("16UC1 848x480 depth Image", "/camera/depth/image_rect_raw",
                       m.image_msg(depth, "16UC1", 0, m.FRAME_ID_DEPTH)),
        ConversionCase("JPEG 1920x1080 (pass-through)", "/camera/color/image_raw/compressed",
                       compressed(m.encode_jpeg(colour), "rgb8; jpeg compressed bgr8", m.FRAME_ID_COLOUR)),
        ConversionCase("compressedDepth PNG 848x480", "/camera/depth/image_rect_raw/compressedDepth",
                       compressed(m.compressed_depth_payload(depth, "png"), "16UC1; compressedDepth png", m.FRAME_ID_DEPTH)),
        ConversionCase("compressedDepth RVL 848x480", "/camera/depth/rvl/compressedDepth",
                       compressed(m.compressed_depth_payload(depth, "rvl"), "16UC1; compressedDepth rvl", m.FRAME_ID_DEPTH)),
    ]  # fmt: skip


def measure_conversions(count: int, out_dir: Path) -> list[ConversionCost]:
    """Every case `count` times through one bridge recording to a file in `out_dir` (deleted after)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out_dir) as tmp:
        config = BridgeConfig().with_sinks(SinksConfig(file=Path(tmp) / "conversion.rrd"))
        recording = Recording(config.recording)
        try:
            bridge = Bridge(config, recording)
            return [measure_case(bridge, case, count) for case in conversion_cases()]
        finally:
            recording.close()


def measure_case(bridge: Bridge, case: ConversionCase, count: int) -> ConversionCost:
    route = bridge.route(case.topic, case.msg.__msgtype__)
    if route is None:
        raise BenchError(f"{case.name}: the bridge does not route {case.topic}")
    raw = m.serialize(case.msg)
    first = _time_calls(1, lambda _: bridge.handle(route, case.msg, 0))  # also pays for what is imported on first use
    bridge.recording.flush()
    handle = _time_calls(count, lambda i: bridge.handle(route, case.msg, (1 + i) * PERIOD_NS))
    began = time.perf_counter_ns()
    bridge.recording.flush()
    flush_ns = time.perf_counter_ns() - began
    with_cdr = _time_calls(count, lambda i: bridge.handle_cdr(route, raw, m.TYPESTORE.deserialize_cdr, (1 + count + i) * PERIOD_NS))
    bridge.recording.flush()
    if (logged := bridge.stats[case.topic].logged) != 1 + 2 * count:
        raise BenchError(f"{case.name}: {logged} of {1 + 2 * count} messages logged (see the warnings above)")
    return ConversionCost(
        case=case.name,
        first_ms=float(first[0]) / 1e6,
        median_ms=float(np.median(handle)) / 1e6,
        p99_ms=float(np.percentile(handle, 99)) / 1e6,
        sustained_ms=(float(handle.sum()) + flush_ns) / count / 1e6,
        with_cdr_median_ms=float(np.median(with_cdr)) / 1e6,
    )


def _time_calls(count: int, call: Callable[[int], object]) -> np.ndarray:
    """Nanoseconds each of `count` calls took."""
    times = np.empty(count, np.int64)
    for i in range(count):
        began = time.perf_counter_ns()
        call(i)
        times[i] = time.perf_counter_ns() - began
    return times


# -- DDS load ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TopicLoad:
    topic: str
    sent: int = 0
    received: int = 0
    logged: int = 0
    dropped: int = 0  # by the bridge's queue: it fell behind
    p50_ms: float | None = None
    p99_ms: float | None = None

    @property
    def lost(self) -> int:
        """Sent but never received: lost by DDS (best effort) or still in flight at the end."""
        return self.sent - self.received


@dataclass(frozen=True)
class DdsLoad:
    cameras: int
    seconds: float
    topics: list[TopicLoad]
    bridge: Measurement
    publisher: Measurement

    @property
    def missing(self) -> int:
        return sum(t.sent - t.logged for t in self.topics)

    @property
    def worst_p99_ms(self) -> float | None:
        p99s = [t.p99_ms for t in self.topics if t.p99_ms is not None]
        return max(p99s) if p99s else None


def run_dds_load(cameras: int, seconds: float, out_dir: Path, receive_buffer: int | None = None,
                 colour: tuple[int, int] = COLOUR_SIZE, depth: tuple[int, int] = DEPTH_SIZE) -> DdsLoad:
    """The bridge under `cameras` RGB-D cameras' load for `seconds`; `receive_buffer` as in `cyclonedds_xml`;
    (width, height) of the `colour` and `depth` frames."""
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out_dir) as tmp:
        env = dds_env(Path(tmp), receive_buffer)
        config = write_live_config(Path(tmp) / "live.yaml", cameras)
        bridge_cmd = [sys.executable, "-m", "bridge", "live", "-c", config, "-o", Path(tmp) / "live.rrd",
                      "--duration", str(seconds + BRIDGE_MARGIN_S)]  # fmt: skip
        load_cmd = [sys.executable, "-m", "bench.dds_load", "--cameras", str(cameras), "--seconds", str(seconds),
                    "--colour", "x".join(map(str, colour)), "--depth", "x".join(map(str, depth))]  # fmt: skip
        bridge, publisher = run_beside(bridge_cmd, load_cmd, env)
    if not publisher.ok:
        raise BenchError(f"the DDS load generator failed: {publisher.failure()}")
    if not bridge.ok:
        raise BenchError(f"ros2-rerun-bridge live failed: {bridge.failure()}")
    sent: dict[str, int] = json.loads(publisher.stdout)
    received = parse_summary(bridge.stderr)
    topics = [replace(received.get(topic, TopicLoad(topic)), sent=count) for topic, count in sent.items()]
    return DdsLoad(cameras, seconds, topics, bridge, publisher)


def run_beside(bridge_cmd: list, publisher_cmd: list, env: dict[str, str]) -> tuple[Measurement, Measurement]:
    """The bridge (its threads' CPU measured too) and a publisher, run at the same time; both measured."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        bridge_run = pool.submit(run_measured, bridge_cmd, env, True)
        publisher = run_measured(publisher_cmd, env)
        return bridge_run.result(), publisher


def cyclonedds_xml(receive_buffer: int | None = None) -> str:
    """The field notes' loopback-only configuration (no packet leaves the machine).

    `receive_buffer` (bytes) raises the sockets' receive buffer: a 1080p rgb8 frame is
    6 MB of UDP fragments, and a best-effort sample loses all of them if one overflows.
    """
    internal = f'<Internal><SocketReceiveBufferSize min="{receive_buffer}B"/></Internal>' if receive_buffer else ""
    return (
        '<CycloneDDS><Domain Id="any"><General><Interfaces><NetworkInterface name="lo" multicast="false"/>'
        "</Interfaces><AllowMulticast>false</AllowMulticast></General><Discovery><ParticipantIndex>auto"
        "</ParticipantIndex><MaxAutoParticipantIndex>32</MaxAutoParticipantIndex><Peers><Peer address=\"127.0.0.1\"/>"
        f"</Peers></Discovery>{internal}</Domain></CycloneDDS>"
    )


def max_receive_buffer() -> int | None:
    """net.core.rmem_max: the largest receive buffer a process may ask for (None off Linux)."""
    return int(RMEM_MAX.read_text()) if RMEM_MAX.exists() else None


def dds_env(tmp: Path, receive_buffer: int | None) -> dict[str, str]:
    """The environment of every DDS process: loopback only, a domain no other run uses."""
    config = tmp / "cyclonedds.xml"
    config.write_text(cyclonedds_xml(receive_buffer))
    return {**os.environ, "CYCLONEDDS_URI": config.as_uri(), "ROS_DOMAIN_ID": str(random.randint(1, 200))}


def write_live_config(path: Path, cameras: int) -> Path:
    kinds = {"rgb8": "image", "16UC1": "depth", "camera_info": "camera_info"}
    topics = {topic: {"kind": kinds[encoding]} for topic, encoding in camera_topics(cameras).items()}
    path.write_text(yaml.safe_dump({"auto": False, "topics": topics}))
    return path


def parse_summary(stderr: str) -> dict[str, TopicLoad]:
    """The bridge's closing per-topic lines (`/t: N received, M logged, K dropped, ..., latency p50 X ms p99 Y ms`).

    `sent` is left at 0: only the publisher knows it.
    """
    topics = {}
    for line in stderr.splitlines():
        if match := _SUMMARY_LINE.search(line):
            dropped = re.search(r"(\d+) dropped", match["rest"])
            latency = re.search(r"latency p50 ([\d.]+) ms p99 ([\d.]+) ms", match["rest"])
            topics[match["topic"]] = TopicLoad(
                match["topic"],
                received=int(match["received"]),
                logged=int(match["logged"]),
                dropped=int(dropped[1]) if dropped else 0,
                p50_ms=float(latency[1]) if latency else None,
                p99_ms=float(latency[2]) if latency else None,
            )
    return topics
