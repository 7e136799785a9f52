"""rosbag2 recordings (folders, single `.db3` and `.mcap` files) read with `rosbags`, no ROS needed.

Messages stream one at a time in log-time order, so memory does not grow
with the bag's size.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from rosbags.highlevel import AnyReader
from rosbags.typesys import Stores, get_typestore

# Used for bags that do not embed their message definitions (sqlite3 bags before Iron).
DEFAULT_TYPESTORE = get_typestore(Stores.ROS2_HUMBLE)


class BagError(Exception):
    """A bag that cannot be opened or read; the text names the file."""


@dataclass(frozen=True)
class TopicInfo:
    msgtype: str
    count: int


@dataclass(frozen=True)
class BagMessage:
    topic: str
    msgtype: str
    log_time_ns: int
    raw: memoryview | bytes


class Bag:
    """An open rosbag2 recording. Use as a context manager."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._reader: AnyReader | None = None

    def __enter__(self) -> Bag:
        try:
            self._reader = AnyReader([self.path], default_typestore=DEFAULT_TYPESTORE)
            self._reader.open()
        except FileNotFoundError:
            raise BagError(f"{self.path}: no such bag") from None
        except Exception as err:  # rosbags' errors for unreadable metadata, databases and files
            raise BagError(f"{self.path}: cannot open bag: {err}") from None
        return self

    def __exit__(self, *exc: object) -> None:
        if self._reader is not None:
            self._reader.close()

    @property
    def reader(self) -> AnyReader:
        assert self._reader is not None, "Bag is not open"
        return self._reader

    @property
    def start_ns(self) -> int:
        return self.reader.start_time

    @property
    def end_ns(self) -> int:
        return self.reader.end_time

    def topics(self) -> dict[str, TopicInfo]:
        topics: dict[str, TopicInfo] = {}
        for connection in self.reader.connections:
            known = topics.get(connection.topic)
            topics[connection.topic] = TopicInfo(connection.msgtype, connection.msgcount + (known.count if known else 0))
        return topics

    def messages(self, topics: set[str], start_ns: int | None = None, end_ns: int | None = None) -> Iterator[BagMessage]:
        """The messages of `topics` with start <= log time < end, in log-time order."""
        connections = [c for c in self.reader.connections if c.topic in topics]
        if not connections:
            return
        try:
            for connection, log_time_ns, raw in self.reader.messages(connections, start=start_ns, stop=end_ns):
                yield BagMessage(connection.topic, connection.msgtype, log_time_ns, raw)
        except Exception as err:  # a truncated file or a corrupt database surfaces here, mid-stream
            raise BagError(f"{self.path}: cannot read further: {type(err).__name__}: {err}") from None

    def deserialize(self, raw: bytes | memoryview, msgtype: str) -> Any:
        return self.reader.deserialize(raw, msgtype)
