"""One bag into its recording, in a worker process (or a Ray task): the conversion `replay` does, with its
recording id and properties set from the bag, everything it logs collected for the summary.

Runs `replay()` in the command line's own session (`bridge.cli._Session`), as `replay` and `demo` do: the
same bridge, sinks, `.NAME.partial` file renamed when complete, and the same idea of success.
"""

from __future__ import annotations

import logging
import signal
import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from .. import __version__
from .discover import BagJob, write_stamp

log = logging.getLogger("ros2_rerun_bridge")

MAX_MESSAGES = 20  # warnings and errors kept per bag (the first ones)

# A bag's status in the summary.
CONVERTED, UP_TO_DATE, EMPTY, DAMAGED, FAILED = "converted", "up to date", "no camera topic", "damaged", "FAILED"
FAILURES = (DAMAGED, FAILED)  # those that make the exit status 1


@dataclass
class BagResult:
    name: str
    status: str
    frames: int = 0  # image frames logged (or, for an up-to-date bag, when it was converted)
    size_in: int = 0
    size_out: int = 0
    seconds: float = 0.0
    errors: list[str] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)  # every warning and error logged, the first MAX_MESSAGES
    output: Path | None = None  # the recording, when there is one
    peak_rss_mb: float = 0.0  # of the process that converted it, so far (Linux, macOS)

    @property
    def failed(self) -> bool:
        return self.status in FAILURES


def init_worker() -> None:
    """For pool workers: Ctrl-C in a terminal reaches the whole process group, but the parent decides what
    ends. The imports (a second or two) are made now, not in the first bag's time."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    from .. import cli, replay  # noqa: F401
    from ..startup import keep_pandas_out_of_pyarrow

    keep_pandas_out_of_pyarrow()  # as the command line does


def convert_bag(job: BagJob, config: Any, settings: str, config_name: str | None = None) -> BagResult:
    """Convert `job` with `config` (a BridgeConfig, sinks ignored) into `job.output`; never raises for a bad bag.

    On success the output's stamp (`job.stamp_path`) records what it was made from.
    """
    began, cpu = time.monotonic(), time.process_time()
    result = BagResult(job.name, FAILED, size_in=job.size)
    capture = _Capture()
    logger_state = (log.propagate, log.level)
    log.addHandler(capture)
    log.propagate = False  # a worker's messages come back in the result, not on its stderr
    log.setLevel(logging.WARNING)
    try:
        _convert(job, config, settings, config_name, result)
        result.peak_rss_mb = _peak_rss_mb()
        if result.status == CONVERTED:
            write_stamp(job, settings, {"frames": result.frames, "messages": capture.messages,
                                        "seconds": round(time.monotonic() - began, 3), "cpu_seconds": round(time.process_time() - cpu, 3),
                                        "worker_peak_rss_mb": result.peak_rss_mb})  # fmt: skip
    except Exception as err:  # an output that cannot be written, anything unforeseen: this bag only
        from ..sinks import OutputError, SinkError

        result.status = FAILED
        result.errors.append(str(err) if isinstance(err, (OutputError, SinkError)) else f"{job.path}: {type(err).__name__}: {err}")
    finally:
        log.removeHandler(capture)
        log.propagate, _ = logger_state
        log.setLevel(logger_state[1])
    result.messages = capture.messages
    result.seconds = time.monotonic() - began
    return result


def bag_config(config: Any, job: BagJob) -> Any:
    """The config `job` is converted with: into its output, with its recording id and, when the bag is one robot's
    (`--namespace-from-path`), its topics and frames under the robot's namespace. ConfigError where that cannot be."""
    from ..config import SinksConfig

    config = config.with_sinks(SinksConfig(file=job.output))
    config = replace(config, recording=replace(config.recording, recording_id=job.recording_id))
    return replace(config, namespaces=(job.namespace,), topics_namespaced=False) if job.namespace else config


def _convert(job: BagJob, config: Any, settings: str, config_name: str | None, result: BagResult) -> None:
    import rerun as rr

    from ..cli import _Session
    from ..replay import ReplayOptions, replay

    config = bag_config(config, job)
    opened: dict[str, Any] = {}

    def remember(bag: Any) -> None:
        topics = bag.topics()
        opened.update(start_ns=bag.start_ns, end_ns=bag.end_ns, topics=topics)
        routes = {t: session.bridge.route(t, info.msgtype) for t, info in topics.items()}
        opened["image_topics"] = {t for t, route in routes.items() if route is not None and route.carries_images}
        opened["entity_paths"] = {t: route.entity_path for t, route in routes.items() if route is not None}

    with _Session(config, verbosity=-1) as session:
        errors = replay([job.path], session.bridge, ReplayOptions(progress=False), opened=remember)
        stream = session.bridge.recording.primary
        if opened and stream is not None:
            _send_properties(rr, stream, job, opened, session.bridge.stats, settings, config_name)
    stats = session.bridge.stats
    result.frames = sum(stats[t].logged for t in opened.get("image_topics", ()) if t in stats)
    result.errors = list(errors)
    if (failure := session.bridge.recording.failure) is not None:
        result.errors.append(f"{job.output}: the file stopped taking data ({failure})")
    if session.bridge.logged_anything and job.output.exists():
        result.output = job.output
        result.size_out = job.output.stat().st_size
    if result.errors:
        result.status = DAMAGED if result.output is not None else FAILED
    elif result.output is None:
        result.status = EMPTY
    else:
        result.status = CONVERTED


def _send_properties(rr: Any, stream: Any, job: BagJob, bag: dict, stats: dict, settings: str, config_name: str | None) -> None:
    """The recording's name and properties: where it came from and what is in it (the catalog's segment table)."""
    topics = bag["topics"]
    names = sorted(topics)
    rr.send_recording_name(job.name, recording=stream)
    rr.send_recording_start_time_nanos(bag["start_ns"], recording=stream)
    rr.send_property("ros2_bag", rr.AnyValues(
        path=str(job.path), name=job.name, namespace=job.namespace,
        start_time_ns=bag["start_ns"], end_time_ns=bag["end_ns"], duration_s=(bag["end_ns"] - bag["start_ns"]) / 1e9,
        messages=sum(info.count for info in topics.values()), size_bytes=job.size,
        frames=sum(stats[t].logged for t in bag["image_topics"] if t in stats),
    ), recording=stream)  # fmt: skip
    rr.send_property("ros2_topics", rr.AnyValues(
        topic=names, type=[topics[t].msgtype for t in names], message_count=[topics[t].count for t in names],
        logged=[stats[t].logged if t in stats else 0 for t in names],
        entity_path=[bag["entity_paths"].get(t, "") for t in names],
    ), recording=stream)  # fmt: skip
    rr.send_property("ros2_rerun_bridge", rr.AnyValues(
        version=__version__, config_hash=settings, config=config_name or "",
    ), recording=stream)  # fmt: skip


def _peak_rss_mb() -> float:
    try:
        import resource
    except ImportError:  # Windows
        return 0.0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux, bytes on macOS
    return round(peak / (1024 * 1024 if sys.platform == "darwin" else 1024), 1)


class _Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if len(self.messages) < MAX_MESSAGES:
            self.messages.append(f"{record.levelname.lower()}: {record.getMessage()}")
