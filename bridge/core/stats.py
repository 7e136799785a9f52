"""Per-topic counters: what arrived, what reached Rerun, and what did not and why."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import numpy as np

# Header stamps older or newer than this are not wall-clock time (sim time, a replayed bag, a robot whose
# clock is not synchronised): their age would be a meaningless number, so it is not reported.
WALL_CLOCK_STAMP_AGE_NS = 60 * 1_000_000_000


@dataclass
class TopicStats:
    received: int = 0
    logged: int = 0
    skipped: int = 0  # by the topic's max_rate, or a second CameraInfo for one frame
    dropped: int = 0  # live: the consumer fell behind, the oldest frame was dropped
    failed: int = 0  # malformed messages
    first_ns: int | None = None
    last_ns: int | None = None
    latencies_ns: deque = field(default_factory=lambda: deque(maxlen=1000))  # live: published -> logged
    stamp_ages_ns: deque = field(default_factory=lambda: deque(maxlen=1000))  # live: header.stamp -> logged

    def rate_hz(self) -> float | None:
        """Messages per second between the first and the last logged; None over less than 10 ms."""
        if self.first_ns is None or self.last_ns is None or self.last_ns - self.first_ns < 10_000_000:
            return None
        return (self.logged - 1) / ((self.last_ns - self.first_ns) / 1e9)

    def latency_ms(self, percentile: float) -> float | None:
        """From publication (the DDS source timestamp) to logging; None when the transport gives no source time."""
        return _percentile_ms(self.latencies_ns, percentile)

    def stamp_age_ms(self, percentile: float) -> float | None:
        """From `header.stamp` to logging; None unless the stamps are wall-clock time."""
        age = _percentile_ms(self.stamp_ages_ns, percentile)
        if age is None or abs(_percentile_ms(self.stamp_ages_ns, 50)) * 1e6 > WALL_CLOCK_STAMP_AGE_NS:
            return None
        return age

    def line(self, topic: str) -> str:
        text = f"{topic}: {self.received} received, {self.logged} logged"
        for name in ("skipped", "dropped", "failed"):
            if count := getattr(self, name):
                text += f", {count} {name}"
        if (rate := self.rate_hz()) is not None:
            text += f", {rate:.1f} Hz"
        if (p50 := self.latency_ms(50)) is not None:
            text += f", latency p50 {p50:.1f} ms p99 {self.latency_ms(99):.1f} ms"
        if (age := self.stamp_age_ms(50)) is not None:
            text += f", stamp age p50 {age:.1f} ms"
        return text


def _percentile_ms(samples_ns: deque, percentile: float) -> float | None:
    if not samples_ns:
        return None
    return float(np.percentile(np.array(list(samples_ns), np.int64), percentile)) / 1e6
