"""Replay: rosbag2 recordings through the bridge into the sinks."""

from __future__ import annotations

import contextlib
import logging
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Sequence

from .config import BridgeConfig
from .core import Bridge
from .core.routes import configured_topics
from .sinks.blueprint import default_blueprint
from .sources.bag import Bag, BagError

log = logging.getLogger("ros2_rerun_bridge")


@dataclass(frozen=True)
class ReplayOptions:
    start: float | None = None  # seconds after the bag's first message
    end: float | None = None  # seconds after the bag's first message
    rate: float | None = None  # playback speed (1.0 = real time); None: as fast as possible
    progress: bool | None = None  # None: when stderr is a terminal


def replay(bags: Sequence[Path], bridge: Bridge, options: ReplayOptions = ReplayOptions(),
           opened: Callable[[Bag], None] | None = None) -> list[str]:
    """Replay `bags` one after the other; the errors, one per bag that could not be read to its end.

    `opened` is called with each bag once it is open (its topics and times), before its messages.
    """
    errors: list[str] = []
    seen_topics: set[str] = set()
    for path in bags:
        try:
            with Bag(path) as bag:
                seen_topics.update(bag.topics())
                if opened is not None:
                    opened(bag)
                _replay_bag(bag, bridge, options)
        except BagError as err:
            log.error("%s", err)
            errors.append(str(err))
    warn_unseen_topics(bridge.config, seen_topics)
    return errors


def warn_unseen_topics(config: BridgeConfig, seen: Iterable[str]) -> None:
    """Warn about each topic the config lists (in a fleet, under each robot's namespace) that is not in `seen`."""
    for topic in sorted(set(configured_topics(config)) - set(seen)):
        log.warning("%s: configured but not in the bag", topic)


def _replay_bag(bag: Bag, bridge: Bridge, options: ReplayOptions) -> None:
    topics = bag.topics()
    routes = {topic: route for topic, info in topics.items() if (route := bridge.route(topic, info.msgtype))}
    if not routes:
        namespaced = bridge.config.namespaces and bridge.config.topics_namespaced  # not a bag of one robot's
        within = f" within namespaces {', '.join(bridge.config.namespaces)}" if namespaced else ""
        log.warning("%s: no topic to bridge%s (topics: %s)", bag.path, within, ", ".join(sorted(topics)) or "none")
        return
    log.info("%s: %.1f s; bridging %d of %d topics (%d messages): %s", bag.path, (bag.end_ns - bag.start_ns) / 1e9,
             len(routes), len(topics), sum(topics[t].count for t in routes),
             ", ".join(f"{topic} -> {route.entity_path}" for topic, route in sorted(routes.items())))  # fmt: skip
    images = (path for route in routes.values() for path in route.image_entity_paths)
    bridge.recording.send_blueprint(default_blueprint(images, bridge.config.namespaces))
    start_ns = _into(bag, options.start)
    end_ns = _into(bag, options.end)
    total = sum(topics[t].count for t in routes) if start_ns is None and end_ns is None else None
    show = sys.stderr.isatty() if options.progress is None else options.progress
    pacer = _Pacer(options.rate) if options.rate else None
    if (start_ns is not None and start_ns > bag.end_ns) or (end_ns is not None and end_ns <= bag.start_ns):
        log.warning("%s: nothing between --start and --end: the bag is %.1f s long", bag.path, (bag.end_ns - bag.start_ns) / 1e9)
        return
    if start_ns is not None:
        _static_tf_before(bag, bridge, routes, start_ns)
    nbytes = 0
    began = time.monotonic()
    with _progress_bar(total, bag.path.name) if show else contextlib.nullcontext() as progress:
        for count, message in enumerate(bag.messages(set(routes), start_ns, end_ns), 1):
            if pacer is not None:
                pacer.wait_until(message.log_time_ns)
            bridge.handle_cdr(routes[message.topic], message.raw, bag.deserialize, message.log_time_ns)
            nbytes += len(message.raw)
            if progress is not None:
                progress.update()
                if count % 64 == 0:
                    progress.set_postfix_str(f"{nbytes / 1e6 / max(time.monotonic() - began, 1e-9):.0f} MB/s", refresh=False)


def _static_tf_before(bag: Bag, bridge: Bridge, routes: dict, start_ns: int) -> None:
    """/tf_static is latched: transforms published before `--start` still hold after it, and without them the
    cameras' optical frames hang from nothing in 3D (as a late subscriber to /tf_static receives them too)."""
    static = {topic for topic, route in routes.items() if route.static_tf}
    if not static:
        return
    try:
        for message in bag.messages(static, None, start_ns):
            bridge.handle_cdr(routes[message.topic], message.raw, bag.deserialize, message.log_time_ns)
    except BagError:
        pass  # the same damage ends the replay itself, which reports it


@contextlib.contextmanager
def _progress_bar(total: int | None, name: str) -> Iterator[Any]:
    """A terminal progress bar that log lines print above; tqdm is imported only for one (0.03-0.07 s)."""
    from tqdm import tqdm
    from tqdm.contrib.logging import logging_redirect_tqdm

    with tqdm(total=total, unit="msg", desc=name, smoothing=0.1) as bar, logging_redirect_tqdm():
        yield bar


def _into(bag: Bag, seconds: float | None) -> int | None:
    """The log time `seconds` (at least 0, possibly inf) into the bag, at most just past its end."""
    if seconds is None:
        return None
    return bag.start_ns + int(min(seconds * 1e9, bag.end_ns - bag.start_ns + 1))


class _Pacer:
    """Sleeps so that messages leave at `rate` times the speed they were recorded."""

    def __init__(self, rate: float):
        self.rate = rate
        self.first_ns: int | None = None
        self.began = 0.0

    def wait_until(self, log_time_ns: int) -> None:
        if self.first_ns is None:
            self.first_ns, self.began = log_time_ns, time.monotonic()
            return
        delay = self.began + (log_time_ns - self.first_ns) / 1e9 / self.rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)
