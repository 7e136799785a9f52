"""rosbag2 recordings (folders, single `.db3` and `.mcap` files) read with `rosbags`, no ROS needed.

Messages stream one at a time in log-time order, so memory does not grow with the bag's size. A
damaged bag loses only what cannot be read: a storage file cut short or damaged is read up to the
damage (see `storage`), a folder whose metadata.yaml is missing or does not describe its storage
files is read from the files themselves, and what was lost is reported at the end, naming the file.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from rosbags.highlevel import AnyReader
from rosbags.typesys import Stores, get_typestore

from ..msgs import register_video_types
from .storage import FORMATS, Damage, DefaultTypes, MetadataError, StorageFile, Typestores, open_files, open_folder

log = logging.getLogger("ros2_rerun_bridge")

# For bags that do not carry their message definitions (sqlite3 bags before Iron): built only for them.
DEFAULT_TYPES = DefaultTypes(lambda: register_video_types(get_typestore(Stores.ROS2_HUMBLE)))
TYPESTORES = Typestores()  # the bags' typestores, with their deserializers, for the next bags with the same types


class BagError(Exception):
    """A bag that cannot be opened or read to its end; the text names the file."""


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
        self._storages: list[StorageFile] = []

    def __enter__(self) -> Bag:
        if not self.path.exists():
            raise BagError(f"{self.path}: no such file or directory")
        try:
            reader, self._storages = self._open()
        except BagError:
            raise
        except Exception as err:  # rosbags' errors for what is no bag at all; OSError for a folder it cannot list
            raise BagError(f"{self.path}: cannot open bag: {err}") from None
        if self._storages and not any(storage.readable for storage in self._storages):
            reader.close()
            raise BagError(self._damage_report())
        reader.typestore = TYPESTORES.shared(reader.typestore)
        self._reader = reader
        return self

    def __exit__(self, *exc: object) -> None:
        if self._reader is not None:
            self._reader.close()

    def _open(self) -> tuple[AnyReader, list[StorageFile]]:
        if not self.path.is_dir():
            if self.path.suffix not in FORMATS:
                raise BagError(f"{self.path}: not a rosbag2 bag (a folder, a .mcap or a .db3 file)")
            return open_files([self.path], DEFAULT_TYPES)
        files = sorted(p for p in self.path.iterdir() if p.suffix in FORMATS and p.is_file())
        names = ", ".join(p.name for p in files)
        metadata = self.path / "metadata.yaml"
        if not metadata.exists():
            if not files:
                raise BagError(f"{self.path}: not a rosbag2 bag (no metadata.yaml, .mcap or .db3 file)")
            log.warning("%s: no metadata.yaml (recorder killed?): reading %s directly", self.path, names)
            return open_files(files, DEFAULT_TYPES)
        try:
            return open_folder(self.path, files, DEFAULT_TYPES)
        except MetadataError as err:
            if not files:
                raise BagError(f"{metadata}: {err}; and no .mcap or .db3 file beside it") from None
            log.warning("%s: %s: reading %s directly", metadata, err, names)
            return open_files(files, DEFAULT_TYPES)

    @property
    def reader(self) -> AnyReader:
        assert self._reader is not None, "Bag is not open"
        return self._reader

    @property
    def start_ns(self) -> int:
        """The first message's log time, from the storage files (metadata.yaml may say otherwise)."""
        return min((s.metadata.start_time for s in self._storages), default=self.reader.start_time)

    @property
    def end_ns(self) -> int:
        """Just after the last message's log time, from the storage files."""
        return max((s.metadata.end_time for s in self._storages), default=self.reader.end_time)

    def topics(self) -> dict[str, TopicInfo]:
        """The bag's topics, each with the messages its storage files hold as far as they are readable (a damaged
        folder's metadata.yaml counts those recorded, and lists topics of files that cannot be read at all)."""
        stored = [c for storage in self._storages for c in storage.connections] if self._storages else self.reader.connections
        held: Counter[str] = Counter()
        for connection in stored:
            held[connection.topic] += connection.msgcount
        return {c.topic: TopicInfo(c.msgtype, held[c.topic]) for c in self.reader.connections}

    def messages(self, topics: set[str], start_ns: int | None = None, end_ns: int | None = None) -> Iterator[BagMessage]:
        """The messages of `topics` with start <= log time < end, in log-time order (a damaged file's in file order).

        Raises BagError at the end, naming the files, when part of the bag could not be read.
        """
        connections = [c for c in self.reader.connections if c.topic in topics]
        if connections:
            try:
                for connection, log_time_ns, raw in self.reader.messages(connections, start=start_ns, stop=end_ns):
                    yield BagMessage(connection.topic, connection.msgtype, log_time_ns, raw)
            except Exception as err:  # what storage files do not catch: a message rosbags cannot decompress
                raise BagError(f"{self.path}: cannot read further: {type(err).__name__}: {err}") from None
        if report := self._damage_report():
            raise BagError(report)

    def deserialize(self, raw: bytes | memoryview, msgtype: str) -> Any:
        return self.reader.deserialize(raw, msgtype)

    def damage(self) -> list[str]:
        """What of each damaged file cannot be read, naming it. Known at open: what each file's size, summary and
        index say (an MCAP file's summary and chunk index, a sqlite3 file's pages and rows); found while reading:
        the rest (a chunk that does not decode, a message rosbags skips)."""
        return [self._describe(storage.damage) for storage in self._storages if storage.damage]

    def _damage_report(self) -> str:
        """`damage` in one line, as BagError gives it; "" for none."""
        return "; ".join(self.damage())

    def _describe(self, damage: Damage) -> str:
        if not damage.while_reading:
            return f"{damage.path}: {damage.problem}"
        where = "" if damage.path == self.path else f" in {damage.path.name}"
        return f"{self.path}: cannot read further{where}: {damage.problem}"
