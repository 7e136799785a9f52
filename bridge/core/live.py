"""Bounded per-topic queues for live transports, so that conversion never blocks the receiver.

A transport's callback only appends to its topic's queue; one worker thread
per topic converts and logs. When a worker falls behind, the oldest frame is
dropped and counted: memory stays bounded, and what is shown is the newest.
`/tf_static` is never dropped from: its few latched messages each hold
different transforms.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable

from ..conversion import stamp_ns
from ..conversion.warm_up import warm_up
from .bridge import Bridge, Deserialize
from .routes import Route
from .subscriptions import subscription_qos


@dataclass
class _Queue:
    route: Route
    items: deque
    ready: threading.Condition = field(default_factory=threading.Condition)
    closed: bool = False
    thread: threading.Thread | None = None


class LiveQueues:
    def __init__(self, bridge: Bridge, deserialize: Deserialize | None = None, clock: Callable[[], int] = time.time_ns):
        """`deserialize` turns raw CDR into messages; None when the transport delivers messages.

        `clock` gives the receive time logged on the `message_log_time` timeline (the node's ROS clock,
        which is simulated time under `use_sim_time`).
        """
        self.bridge = bridge
        self._deserialize = deserialize
        self._clock = clock
        self._queues: dict[str, _Queue] = {}
        self._lock = threading.Lock()
        warm_up()  # now, rather than while the first frames queue up and are dropped

    def push(self, route: Route, payload: Any, nbytes: int | None = None, sent_ns: int | None = None) -> None:
        """Queue one received message (raw CDR or a message object); never blocks.

        `nbytes` defaults to the size of a message's `data` (its pixels). `sent_ns` is when it was
        published (the DDS source timestamp, wall-clock ns), for the latency statistics.
        """
        if nbytes is None:
            nbytes = len(payload) if self._deserialize is not None else len(getattr(payload, "data", ()))
        received_ns = self._clock()
        queue = self._queues.get(route.topic) or self._start(route)
        stats = self.bridge.stats[route.topic]
        with queue.ready:
            stats.received += 1
            if len(queue.items) == queue.items.maxlen:
                stats.dropped += 1  # deque drops the oldest on append
            queue.items.append((payload, received_ns, nbytes, sent_ns))
            queue.ready.notify()

    def close(self, timeout: float = 5.0) -> None:
        """Convert what is queued, then stop the workers."""
        for queue in list(self._queues.values()):
            with queue.ready:
                queue.closed = True
                queue.ready.notify()
        deadline = time.monotonic() + timeout
        for queue in list(self._queues.values()):
            if queue.thread is not None:
                queue.thread.join(max(0.0, deadline - time.monotonic()))

    def _start(self, route: Route) -> _Queue:
        with self._lock:
            if route.topic not in self._queues:
                # Static transforms are latched once per broadcaster, not streamed: each one counts.
                queue = _Queue(route, deque(maxlen=None if route.static_tf else subscription_qos(route).depth))
                queue.thread = threading.Thread(target=self._work, args=(queue,), name=f"bridge{route.topic}", daemon=True)
                self._queues[route.topic] = queue
                queue.thread.start()
            return self._queues[route.topic]

    def _work(self, queue: _Queue) -> None:
        while True:
            with queue.ready:
                while not queue.items and not queue.closed:
                    queue.ready.wait()
                if not queue.items:
                    return
                item = queue.items.popleft()
            self._convert(queue.route, *item)

    def _convert(self, route: Route, payload: Any, received_ns: int, nbytes: int, sent_ns: int | None) -> None:
        msg = payload if self._deserialize is None else self.bridge.decode(route, payload, self._deserialize)
        if msg is None:
            return
        if not self.bridge.handle(route, msg, received_ns, nbytes=nbytes, counted=True):
            return
        # Wall-clock time, whatever clock the timeline uses: publishers stamp their samples with it.
        logged_ns = time.time_ns()
        stats = self.bridge.stats[route.topic]
        if sent_ns and not route.static_tf:  # a latched transform may have been sent long before the bridge started
            stats.latencies_ns.append(logged_ns - sent_ns)
        if (header := getattr(msg, "header", None)) is not None:
            stats.stamp_ages_ns.append(logged_ns - stamp_ns(header.stamp))
