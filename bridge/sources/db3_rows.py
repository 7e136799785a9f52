"""The rows of a rosbag2 sqlite3 file that SQLite cannot read whole, one by one up to the first damaged page.

A database cut short (recorder killed, disk full, copy interrupted) or with a damaged page fails
rosbags' queries as a whole, as they count and sort every row first. Here rows are read one at a
time in rowid order (the order they were recorded in), from the table and never through its
index, so that every row before the damage is kept. The file is opened read-only and immutable:
nothing is written to it, nor beside it (no journal). `writable_schema` lets SQLite read the pages
a cut file still has, where it would otherwise refuse the whole file because its header counts
more; in a read-only connection it changes nothing. Through apsw (which rosbags reads sqlite3
with), for its VFS: SQLite reads the missing end of a page cut in half as zeros, so that a row
running into it would look whole; the VFS hides that page.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from dataclasses import dataclass
from pathlib import Path

import apsw

Row = tuple[int, int | None, int | None, bytes | None]  # rowid, topic id, log time, data (None: not selected)


class NotABagDatabase(Exception):
    """A database without rosbag2's tables (or an empty file)."""


ERRORS = (apsw.Error, NotABagDatabase)  # what reading a damaged file raises


@dataclass(frozen=True)
class Topic:
    id: int
    name: str
    type: str
    serialization_format: str
    offered_qos_profiles: str  # YAML; empty before schema 2 (Foxy)
    type_description_hash: str  # empty before schema 4 (Iron)


@dataclass(frozen=True)
class Definition:
    encoding: str  # ros2msg or ros2idl
    text: str


class _WholePagesFile(apsw.VFSFile):
    """A database file as long as its whole pages: SQLite takes a page cut in half as missing, not as zeros."""

    def __init__(self, name: apsw.URIFilename | str | None, flags: list[int]):
        super().__init__("", name, flags)  # the default VFS's file

    def xFileSize(self) -> int:
        size = super().xFileSize()
        page = int.from_bytes(super().xRead(2, 16), "big") if size >= 100 else 0  # the page size, in the file header
        page = 65536 if page == 1 else page
        return size - size % page if page in _PAGE_SIZES else size


class _WholePages(apsw.VFS):
    def __init__(self) -> None:
        super().__init__(_VFS_NAME, "")

    def xOpen(self, name: apsw.URIFilename | str | None, flags: list[int]) -> apsw.VFSFile:
        return _WholePagesFile(name, flags)


_VFS_NAME = "rosbag2_whole_pages"
_PAGE_SIZES = {512 << shift for shift in range(8)}
_VFS = _WholePages()  # registered with SQLite as long as it lives


def cut_short(path: Path) -> str | None:
    """How a database file was cut short, if its size says: within a page, or short of the pages its header counts."""
    with path.open("rb") as file:
        header = file.read(100)
        size = file.seek(0, 2)
    page = int.from_bytes(header[16:18], "big") if len(header) == 100 else 0
    page = 65536 if page == 1 else page
    if page not in _PAGE_SIZES:
        return None  # no database file: SQLite says so
    if size % page:
        return f"cut short within its page {size // page + 1}"
    counted = int.from_bytes(header[28:32], "big")
    if header[24:28] == header[92:96] and counted > size // page:  # the count is valid when these two match
        return f"cut short: {size // page} of the {counted} pages its header counts"
    return None


def connect(path: Path) -> apsw.Connection:
    path.open("rb").close()  # an OSError that says why, where SQLite only says "unable to open database file"
    db = apsw.Connection(f"{path.absolute().as_uri()}?mode=ro&immutable=1",
                         flags=apsw.SQLITE_OPEN_READONLY | apsw.SQLITE_OPEN_URI, vfs=_VFS_NAME)  # fmt: skip
    db.execute("PRAGMA writable_schema = ON")
    return db


def topics(db: apsw.Connection) -> list[Topic]:
    """The topics table, of any schema version: the columns a version does not have are empty."""
    tables = {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if not {"topics", "messages"} <= tables:
        raise NotABagDatabase("no rosbag2 tables (topics, messages)" if tables else "an empty database")
    cursor = db.execute("SELECT * FROM topics ORDER BY id")
    rows = [dict(zip((name for name, _ in cursor.getdescription()), values)) for values in cursor]
    return [
        Topic(row["id"], row["name"], row["type"], row["serialization_format"], row.get("offered_qos_profiles") or "",
              row.get("type_description_hash") or "")
        for row in rows
    ]  # fmt: skip


def definitions(db: apsw.Connection) -> dict[str, Definition]:
    """The message definitions by type, stored since schema 4 (Iron); none before."""
    query = "SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'message_definitions'"
    if db.execute(query).fetchone() is None:
        return {}
    rows = db.execute("SELECT topic_type, encoding, encoded_message_definition FROM message_definitions ORDER BY id")
    return {msgtype: Definition(encoding, text) for msgtype, encoding, text in rows}


def garbled_rows(db: apsw.Connection) -> int:
    """How many rows SQLite reads but are no rosbag2 rows: on no topic, or with fields of the wrong type."""
    query = ("SELECT count(*) FROM messages NOT INDEXED WHERE topic_id IS NULL "
             "OR topic_id NOT IN (SELECT id FROM topics) OR typeof(timestamp) != 'integer'")  # fmt: skip
    return int(db.execute(query).fetchone()[0])


def rows(db: apsw.Connection, topic_ids: Collection[int] = (), start: int | None = None,
         stop: int | None = None) -> Iterator[Row]:  # fmt: skip
    """Every row in rowid order, with its data when it is on `topic_ids` and logged in [start, stop).

    A row's data is read only when selected: its overflow pages may be the damaged ones. A row whose fields
    are no rosbag2 row's (a garbled record) comes as (rowid, None, None, None).
    Raises apsw.Error at the first row SQLite cannot read: it cannot read on past a damaged page.
    """
    ids = {int(topic_id) for topic_id in topic_ids}
    low, high = -(2**63) if start is None else start, 2**63 - 1 if stop is None else stop
    query = (f"SELECT id, topic_id, timestamp, CASE WHEN topic_id IN ({','.join(map(str, ids)) or 'NULL'}) "
             "AND timestamp >= ? AND timestamp < ? THEN data END FROM messages NOT INDEXED ORDER BY id")  # fmt: skip
    for rowid, topic_id, log_time, data in db.execute(query, (low, high)):
        selected = topic_id in ids and isinstance(log_time, int) and low <= log_time < high
        if isinstance(topic_id, int) and isinstance(log_time, int) and (isinstance(data, bytes) or not selected):
            yield rowid, topic_id, log_time, data
        else:
            yield rowid, None, None, None
