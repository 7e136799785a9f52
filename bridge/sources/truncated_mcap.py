"""MCAP files cut short (recorder killed, disk full, copy interrupted): read up to the last complete record.

rosbags opens an MCAP file from its footer and summary, which a recorder writes
last, so it refuses a file that lost its end. Such a file is scanned from its
start instead, as `mcap recover` does; a chunk is read only when it is whole.
"""

from __future__ import annotations

import struct
from collections.abc import Collection, Iterator
from pathlib import Path

from rosbags.interfaces import Connection
from rosbags.rosbag2 import ReaderError
from rosbags.rosbag2.storage_mcap import McapReader

MAGIC = b"\x89MCAP0\r\n"  # at the start and at the very end of every complete MCAP file
RECORD_PREFIX = struct.Struct("<BQ")  # opcode, content length


def is_truncated_mcap(path: Path) -> bool:
    """An `.mcap` file that does not end with the MCAP magic: its footer and summary are missing."""
    if path.suffix != ".mcap" or not path.is_file():
        return False
    with path.open("rb") as file:
        if file.seek(0, 2) < 2 * len(MAGIC):
            return True
        file.seek(-len(MAGIC), 2)
        return file.read() != MAGIC


class TruncatedMcapReader(McapReader):
    """rosbags' MCAP storage reader for a file without footer: metadata and messages come from a scan."""

    def __init__(self, path: Path):
        super().__init__(path)
        self.size = 0
        self.complete_bytes = 0  # where the last complete record ends

    def _open(self) -> None:
        assert self.bio is not None
        self.size = self.bio.seek(0, 2)
        self.bio.seek(0)
        if self.bio.read(len(MAGIC)) != MAGIC:
            raise ReaderError("not an MCAP file (its first bytes are not the MCAP magic)")
        self.data_start = len(MAGIC)
        self.data_end = self.complete_bytes = self._end_of_complete_records()
        self.meta_scan()
        if not self.connections:
            raise ReaderError(f"truncated before its first topic, after {self.complete_bytes} of {self.size} bytes")
        stats = self.statistics
        assert stats is not None
        self.connections = [c._replace(msgcount=stats.channel_message_counts.get(c.id, 0)) for c in self.connections]
        if stats.message_count:
            self.metadata = self.metadata._replace(
                duration=stats.end_time - stats.start_time + 1,
                start_time=stats.start_time,
                end_time=stats.end_time + 1,
                message_count=stats.message_count,
            )

    def _end_of_complete_records(self) -> int:
        assert self.bio is not None
        end = self.data_start
        while end + RECORD_PREFIX.size <= self.size:
            self.bio.seek(end)
            _, length = RECORD_PREFIX.unpack(self.bio.read(RECORD_PREFIX.size))
            if end + RECORD_PREFIX.size + length > self.size:
                break
            end += RECORD_PREFIX.size + length
        return end

    def messages(
        self, connections: Collection[Connection], start: int | None = None, stop: int | None = None
    ) -> Iterator[tuple[Connection, int, bytes]]:
        """In file order: there is no index to sort by, and Rerun takes rows in any order."""
        return self.messages_scan(connections, start, stop)
