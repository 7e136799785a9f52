"""rosbag2 recordings (folders, single `.db3` and `.mcap` files) read with `rosbags`, no ROS needed.

Messages stream one at a time in log-time order, so memory does not grow
with the bag's size. A bag whose recorder was killed (no metadata.yaml, an MCAP
file without its end) is read as far as it goes, and then reported.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from rosbags.highlevel import AnyReader
from rosbags.typesys import Stores, get_typestore

from .truncated_mcap import TruncatedMcapReader, is_truncated_mcap

log = logging.getLogger("ros2_rerun_bridge")

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
        self._truncated: list[TruncatedMcapReader] = []

    def __enter__(self) -> Bag:
        if not self.path.exists():
            raise BagError(f"{self.path}: no such file or directory")
        try:
            paths = self._paths_to_read()
            reader = AnyReader(paths, default_typestore=DEFAULT_TYPESTORE)
            for file_reader, path in zip(reader.readers, paths):
                if is_truncated_mcap(path):
                    file_reader.storage = TruncatedMcapReader(path)
                    self._truncated.append(file_reader.storage)
            reader.open()
        except BagError:
            raise
        except Exception as err:  # rosbags' errors for unreadable metadata, databases and files
            raise BagError(f"{self.path}: cannot open bag: {err}") from None
        self._reader = reader
        return self

    def __exit__(self, *exc: object) -> None:
        if self._reader is not None:
            self._reader.close()

    def _paths_to_read(self) -> list[Path]:
        """The bag itself, or the storage files of a folder whose metadata does not describe them.

        A killed recorder leaves no metadata.yaml (before ROS 2 Iron) and MCAP files
        without their end; rosbags needs both to open the folder.
        """
        if not self.path.is_dir():
            return [self.path]
        files = sorted(p for p in self.path.iterdir() if p.suffix in (".mcap", ".db3"))
        has_metadata = (self.path / "metadata.yaml").exists()
        if has_metadata and not any(map(is_truncated_mcap, files)):
            return [self.path]
        if not files:
            raise BagError(f"{self.path}: not a rosbag2 bag (no metadata.yaml, .mcap or .db3 file)")
        problem = "an MCAP file is truncated" if has_metadata else "no metadata.yaml"
        log.warning("%s: %s (recorder killed?): reading %s directly", self.path, problem, ", ".join(p.name for p in files))
        return files

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
        """The messages of `topics` with start <= log time < end, in log-time order (file order if truncated).

        Raises BagError at the end when part of the bag could not be read.
        """
        connections = [c for c in self.reader.connections if c.topic in topics]
        if not connections:
            return
        try:
            for connection, log_time_ns, raw in self.reader.messages(connections, start=start_ns, stop=end_ns):
                yield BagMessage(connection.topic, connection.msgtype, log_time_ns, raw)
        except Exception as err:  # a corrupt chunk or database surfaces here, mid-stream
            raise BagError(f"{self.path}: cannot read further: {type(err).__name__}: {err}") from None
        if self._truncated:
            raise BagError("; ".join(
                f"{s.path}: truncated (recorder killed?): read the messages in its first {s.complete_bytes} of "
                f"{s.size} bytes, the rest is lost"
                for s in self._truncated
            ))  # fmt: skip

    def deserialize(self, raw: bytes | memoryview, msgtype: str) -> Any:
        return self.reader.deserialize(raw, msgtype)
