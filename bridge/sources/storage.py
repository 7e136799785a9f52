"""rosbags' storage readers made damage-tolerant: the one module that goes below rosbags' public API.

rosbags reads a rosbag2 bag through one storage reader per file (`McapReader`, `Sqlite3Reader`),
and a file that reader cannot read whole stops the whole bag, at open or midway. `StorageFile`
takes a storage reader's place (as a file `Reader`'s `storage`, or as a folder's storage plugin)
and reads its file as far as it is readable: with rosbags' reader while that works (an MCAP file's
only when its summary checks out), then with one that salvages (`ScannedMcap` over `mcap_scan`,
`SalvagedDb3` over `db3_rows`) from where rosbags stopped. It never raises for a damaged file:
`damage` says what could not be read, including what rosbags skipped without a word.
"""

from __future__ import annotations

import functools
import struct
from collections import Counter, OrderedDict
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from contextlib import suppress
from dataclasses import dataclass
from itertools import pairwise
from operator import itemgetter
from pathlib import Path
from typing import BinaryIO, Protocol, TypeVar

import apsw
from rosbags.highlevel import AnyReader
from rosbags.interfaces import Connection, ConnectionExtRosbag2, MessageDefinition, MessageDefinitionFormat
from rosbags.interfaces.typing import Typesdict
from rosbags.rosbag2 import ReaderError
from rosbags.rosbag2.metadata import ReaderMetadata, parse_qos
from rosbags.rosbag2.reader import DirectoryReader
from rosbags.rosbag2.storage_mcap import ChunkInfo, McapReader, decompress
from rosbags.rosbag2.storage_sqlite3 import Sqlite3Reader
from rosbags.typesys.store import Typestore

from . import db3_rows, mcap_scan

StorageMessage = tuple[Connection, int, bytes | memoryview]  # as rosbags' storage readers yield them: connection, log time, CDR

# A chunk record: opcode, length, start and end time, uncompressed size, CRC, compression (a string), compressed size.
_CHUNK_CRC, _CHUNK_CRC_AT = struct.Struct("<I"), 1 + 8 + 3 * 8
_CHUNK_DATA_AT = _CHUNK_CRC_AT + 4 + 4 + 8  # plus the compression's name
_LOG_TIME = itemgetter(0)
_NO_MESSAGES = ReaderMetadata(0, 2**63 - 1, 0, 0, None, None, None, None)  # rosbags' metadata of a storage without any
_NO_DEFINITION = MessageDefinition(MessageDefinitionFormat.NONE, "")
_DEFINITION_FORMATS = {"ros2msg": MessageDefinitionFormat.MSG, "ros2idl": MessageDefinitionFormat.IDL,
                       "omgidl": MessageDefinitionFormat.IDL}  # fmt: skip


class Storage(Protocol):
    """rosbags' storage reader protocol (`rosbags.rosbag2.reader.ReaderProtocol`)."""

    connections: list[Connection]
    metadata: ReaderMetadata

    def open(self) -> None: ...

    def close(self) -> None: ...

    def messages(self, connections: Collection[Connection], start: int | None = None,
                 stop: int | None = None) -> Iterator[StorageMessage]: ...  # fmt: skip


class Salvager(Storage, Protocol):
    def damage(self) -> str | None:
        """What of the file could not be read, or None when it was read to its end."""


S = TypeVar("S", bound=Storage)


@dataclass(frozen=True)
class StorageFormat:
    intact: Callable[[Path], Storage]  # rosbags' reader, for files it can read whole
    salvaging: Callable[[Path], Salvager]


@dataclass(frozen=True)
class Damage:
    """What part of a storage file could not be read, and why."""

    path: Path
    problem: str
    while_reading: bool  # found while reading its messages, rather than on opening it


class MetadataError(Exception):
    """A folder's metadata.yaml that rosbags rejects, or that does not describe the storage files beside it."""


class StorageFile:
    """One storage file of a bag, in rosbags' storage protocol, read as far as it is readable."""

    def __init__(self, path: Path, form: StorageFormat):
        self.path = Path(path)
        self.connections: list[Connection] = []
        self.metadata = _NO_MESSAGES
        self.damage: Damage | None = None
        self._form = form
        self._storage: Storage | None = None
        self._salvaging = False  # whether _storage is the salvaging reader
        self._opened: list[Storage] = []

    @property
    def readable(self) -> bool:
        return self._storage is not None

    def open(self) -> None:
        try:
            self._storage = self._opened_storage(self._form.intact)
        except Exception as err:  # rosbags raises whatever a damaged file makes its parsing raise
            self._storage = self._salvaged(err, while_reading=False)
        if self._storage is not None:
            self.connections = [c._replace(owner=self) for c in self._storage.connections]
            self.metadata = self._storage.metadata

    def close(self) -> None:
        for storage in self._opened:
            with suppress(Exception):
                storage.close()
        self._opened.clear()

    def messages(self, connections: Collection[Connection], start: int | None = None,
                 stop: int | None = None) -> Iterator[StorageMessage]:  # fmt: skip
        """The messages of `connections`: rosbags' in log-time order, then if it stops midway the rest in file order.

        A whole read that rosbags ends with fewer messages than the file's index lists notes them as lost:
        rosbags skips a record whose opcode or channel is garbled without a word.
        """
        ids = {c.id for c in connections}
        own = {c.id: c for c in self.connections}
        delivered = _Delivered()
        storage: Storage | None = self._storage
        while storage is not None:
            wanted = [c for c in storage.connections if c.id in ids]
            try:
                messages = storage.messages(wanted, delivered.start(start), stop)
                for connection, log_time, data in delivered.after(messages):
                    if connection.id in own:
                        yield own[connection.id], log_time, data
                if not self._salvaging and start is None and stop is None and (lost := delivered.fewer_than(wanted)):
                    self.damage = Damage(self.path, f"damaged: {lost} of the messages it lists are unreadable", False)
                return
            except Exception as err:  # as in open(); and db3_rows.ERRORS, McapDamage from the salvagers
                if self._salvaging:
                    self.damage = Damage(self.path, _text(err), while_reading=True)
                    return
                storage = self._salvaged(err, while_reading=True)  # rosbags stopped midway: read on from there

    def _opened_storage(self, make: Callable[[Path], S]) -> S:
        storage = make(self.path)
        storage.open()
        self._opened.append(storage)
        return storage

    def _salvaged(self, failure: Exception, while_reading: bool) -> Salvager | None:
        """The salvaging reader, open, noting the damage it finds or else rosbags' `failure`; None: nothing readable."""
        try:
            storage = self._opened_storage(self._form.salvaging)
        except Exception as err:  # as in open(); and OSError, db3_rows.ERRORS, McapDamage
            self.damage = Damage(self.path, _text(failure) if while_reading else f"cannot read: {_text(err)}",
                                 while_reading)  # fmt: skip
            return None
        self._salvaging = True
        read_all = f"read all its {storage.metadata.message_count} messages, in file order"
        self.damage = Damage(self.path, storage.damage() or f"damaged ({_text(failure)}): {read_all}", False)
        return storage


class _Delivered:
    """The log time of the last message delivered and how many were at that time, where to read on from; and all."""

    def __init__(self) -> None:
        self.time: int | None = None
        self.count = 0
        self.by_connection: Counter[int] = Counter()

    def fewer_than(self, connections: Iterable[Connection]) -> int:
        """How many messages fewer than `connections` count were delivered."""
        return sum(max(0, c.msgcount - self.by_connection[c.id]) for c in connections)

    def start(self, start: int | None) -> int | None:
        return start if self.time is None else max(self.time, start or 0)

    def after(self, messages: Iterable[StorageMessage]) -> Iterator[StorageMessage]:
        """`messages` less those delivered before, which a reader that reads on from `start` yields again."""
        resumed_at, skip = self.time, self.count
        for message in messages:
            log_time = message[1]
            if skip and log_time == resumed_at:
                skip -= 1
                continue
            self.time, self.count = log_time, (self.count + 1 if log_time == self.time else 1)
            self.by_connection[message[0].id] += 1
            yield message


class CheckedMcapReader(McapReader):
    """rosbags' MCAP reader, for files with a summary that agrees with itself and with the chunks it points at.

    Without a summary rosbags scans the file, and ends its scan early at some damage without a word; a damaged
    summary can list fewer chunks or messages than the file holds. Both would lose messages silently: such
    files are read with ScannedMcap.
    """

    def open(self) -> None:
        super().open()
        try:
            self._check_index()
        except BaseException:
            self.close()
            raise

    def meta_scan(self) -> None:
        raise ReaderError("no usable summary")  # rosbags would scan the file instead

    def messages(self, connections: Collection[Connection], start: int | None = None,
                 stop: int | None = None) -> Iterator[StorageMessage]:  # fmt: skip
        """As rosbags' reader yields them, but each chunk read once and its messages views of it, not copies.

        A recorder writes chunks one after the other in time: then file order, each chunk's messages sorted
        by log time, is log-time order, and no chunk needs to wait in memory for a merge. Chunks whose times
        overlap are merged by rosbags.
        """
        if not _one_after_another(self.chunks):
            yield from super().messages(connections, start, stop)
            return
        wanted = {c.id: c for c in connections}
        low, high = start if start is not None else 0, stop if stop is not None else 2**63
        for chunk in self.chunks:
            if chunk.message_end_time < low or chunk.message_start_time >= high \
                    or not any(chunk.channel_count.get(i) for i in wanted):  # fmt: skip
                continue
            found = [(m.log_time, m.channel_id, m.data) for m in mcap_scan.chunk_messages(self._records(chunk),
                     chunk.chunk_start_offset, self.channels) if m.channel_id in wanted and low <= m.log_time < high]  # fmt: skip
            found.sort(key=_LOG_TIME)  # stable: messages of one time keep their file order
            for log_time, channel_id, data in found:
                yield wanted[channel_id], log_time, data

    def _records(self, chunk: ChunkInfo) -> memoryview:
        """The chunk's records, decompressed and checked against its CRC, as rosbags does."""
        assert self.bio is not None
        self.bio.seek(chunk.chunk_start_offset)
        record = memoryview(self.bio.read(chunk.chunk_length))
        if len(record) < chunk.chunk_length:
            raise ReaderError(f"chunk at byte {chunk.chunk_start_offset} cut short")
        (crc,) = _CHUNK_CRC.unpack_from(record, _CHUNK_CRC_AT)
        data = record[_CHUNK_DATA_AT + len(chunk.compression.encode()):][:chunk.compressed_size]
        return memoryview(decompress(data, chunk.compression, chunk.uncompressed_size, crc))

    def _check_index(self) -> None:
        assert self.bio is not None and self.statistics is not None
        counts = self.statistics.channel_message_counts
        if self.statistics.message_count != sum(counts.values()) or not counts.keys() <= self.channels.keys():
            raise ReaderError("its statistics do not add up")
        for chunk in self.chunks:
            self.bio.seek(chunk.chunk_start_offset)
            if self.bio.read(9) != bytes([mcap_scan.CHUNK]) + (chunk.chunk_length - 9).to_bytes(8, "little"):
                raise ReaderError(f"its index lists a chunk at byte {chunk.chunk_start_offset} that is not there")


def _one_after_another(chunks: Sequence[ChunkInfo]) -> bool:
    """Whether each chunk's messages come at or after the previous chunk's, as a recorder writes them."""
    return all(a.message_end_time <= b.message_start_time for a, b in pairwise(chunks))


class CheckedSqlite3Reader(Sqlite3Reader):
    """rosbags' sqlite3 reader, for files not cut short and without garbled rows.

    SQLite reads a page cut in half with zeros for its end, and rosbags' queries pass over a row whose topic
    is garbled: both without a word.
    """

    def open(self) -> None:
        if problem := db3_rows.cut_short(self.path):
            raise ReaderError(problem)
        super().open()
        assert self.dbconn is not None
        if garbled := db3_rows.garbled_rows(self.dbconn):
            self.close()
            raise ReaderError(f"{garbled} garbled rows")


class ScannedMcap:
    """An MCAP file read with `mcap_scan`, in file order, as far as it is intact."""

    def __init__(self, path: Path):
        self.path = path
        self.connections: list[Connection] = []
        self.metadata = _NO_MESSAGES
        self._file: BinaryIO | None = None
        self._size = 0
        self._complete = False  # whether the file ends as a complete one does
        self._stop: mcap_scan.McapDamage | None = None

    def open(self) -> None:
        self._file = self.path.open("rb")
        try:
            self._size = self._file.seek(0, 2)
            self._complete = mcap_scan.ends_with_magic(self._file)
            self._read_summary(self._file)
        except BaseException:
            self.close()
            raise

    def _read_summary(self, file: BinaryIO) -> None:
        schemas: dict[int, mcap_scan.Schema] = {}
        channels: dict[int, mcap_scan.Channel] = {}
        counts: Counter[int] = Counter()
        first, last = 2**63 - 1, 0
        try:
            for record in mcap_scan.scan(file):
                if isinstance(record, mcap_scan.Message):
                    counts[record.channel_id] += 1
                    first, last = min(first, record.log_time), max(last, record.log_time)
                elif isinstance(record, mcap_scan.Schema):
                    schemas[record.id] = record
                else:
                    channels[record.id] = record
        except mcap_scan.McapDamage as damage:
            if not channels:
                raise
            self._stop = damage
        self.connections = [self._connection(c, schemas.get(c.schema_id), counts[c.id]) for c in channels.values()]
        self.metadata = _metadata(sum(counts.values()), first, last)

    def _connection(self, channel: mcap_scan.Channel, schema: mcap_scan.Schema | None, count: int) -> Connection:
        """As rosbags' McapReader makes it, so that a folder's reader matches it to its metadata's."""
        msgtype = schema.name if schema else "__schemaless__"
        definition = MessageDefinition(_DEFINITION_FORMATS[schema.encoding], schema.data) \
            if schema and schema.encoding in _DEFINITION_FORMATS else _NO_DEFINITION  # fmt: skip
        qos = parse_qos(channel.metadata.get("offered_qos_profiles", ""))
        return Connection(channel.id, channel.topic, msgtype, definition, "", count,
                          ConnectionExtRosbag2(channel.message_encoding, qos), self)  # fmt: skip

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def messages(self, connections: Collection[Connection], start: int | None = None,
                 stop: int | None = None) -> Iterator[StorageMessage]:  # fmt: skip
        assert self._file is not None, "not open"
        wanted = {c.id: c for c in connections}
        low, high = start if start is not None else 0, stop if stop is not None else 2**63
        try:
            for record in mcap_scan.scan(self._file):
                if isinstance(record, mcap_scan.Message) and record.channel_id in wanted \
                        and low <= record.log_time < high:  # fmt: skip
                    yield wanted[record.channel_id], record.log_time, bytes(record.data)
        except mcap_scan.McapDamage as damage:
            if self._stop is None or damage.offset != self._stop.offset:
                raise  # not where the file stopped at open: it changed since
        # the damage found at open ends the file here, as it did then

    def damage(self) -> str | None:
        count = self.metadata.message_count
        cut = f"truncated (recorder killed?) after {self._size} bytes"
        if self._stop is None:
            return None if self._complete else f"{cut}, past its data: read all its {count} messages"
        if self._stop.cut_short:
            return f"{cut}: read the {count} messages before the cut"
        return f"damaged {self._stop}: read the {count} messages before it, the rest is lost"


class SalvagedDb3:
    """A sqlite3 file read with `db3_rows`, in rowid order, up to its first damaged row."""

    def __init__(self, path: Path):
        self.path = path
        self.connections: list[Connection] = []
        self.metadata = _NO_MESSAGES
        self._db: apsw.Connection | None = None
        self._rows = 0  # that can be read, up to the damage
        self._problem: str | None = None
        self._garbled = 0  # rows skipped: on no topic, or no rosbag2 row at all

    def open(self) -> None:
        self._db = db3_rows.connect(self.path)
        try:
            self._read_summary(self._db)
        except BaseException:
            self.close()
            raise

    def _read_summary(self, db: apsw.Connection) -> None:
        definitions = db3_rows.definitions(db)
        topics = db3_rows.topics(db)
        known = {topic.id for topic in topics}
        counts: Counter[int] = Counter()
        first, last = 2**63 - 1, 0
        try:
            for _, topic_id, log_time, _ in db3_rows.rows(db):
                self._rows += 1
                if topic_id not in known or log_time is None:
                    self._garbled += 1
                    continue
                counts[topic_id] += 1
                first, last = min(first, log_time), max(last, log_time)
        except db3_rows.ERRORS as err:
            self._problem = _text(err)
        self.connections = [self._connection(topic, definitions.get(topic.type), counts[topic.id]) for topic in topics]
        self.metadata = _metadata(sum(counts.values()), first, last)

    def _connection(self, topic: db3_rows.Topic, definition: db3_rows.Definition | None, count: int) -> Connection:
        """As rosbags' Sqlite3Reader makes it, so that a folder's reader matches it to its metadata's."""
        msgdef = MessageDefinition(_DEFINITION_FORMATS[definition.encoding], definition.text) \
            if definition and definition.encoding in _DEFINITION_FORMATS else _NO_DEFINITION  # fmt: skip
        ext = ConnectionExtRosbag2(topic.serialization_format, parse_qos(topic.offered_qos_profiles))
        return Connection(topic.id, topic.name, topic.type, msgdef, topic.type_description_hash, count, ext, self)

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    def messages(self, connections: Collection[Connection], start: int | None = None,
                 stop: int | None = None) -> Iterator[StorageMessage]:  # fmt: skip
        assert self._db is not None, "not open"
        if not self._rows:
            return
        wanted = {c.id: c for c in connections}
        for read, (_, topic_id, log_time, data) in enumerate(db3_rows.rows(self._db, wanted, start, stop), 1):
            if data is not None and topic_id in wanted and log_time is not None:
                yield wanted[topic_id], log_time, data
            if read == self._rows:
                return  # the next row is the damaged one, found at open, or there is none

    def damage(self) -> str | None:
        skipped = f"{self._garbled} garbled rows skipped" if self._garbled else ""
        if self._problem is None:
            return f"damaged: {skipped}, read all its other messages" if skipped else None
        read = f"read its first {self.metadata.message_count} messages{f' ({skipped})' if skipped else ''}"
        return f"damaged ({self._problem}): {read}, the rest is lost"


MCAP = StorageFormat(CheckedMcapReader, ScannedMcap)
DB3 = StorageFormat(CheckedSqlite3Reader, SalvagedDb3)
FORMATS = {".mcap": MCAP, ".db3": DB3}  # by file suffix


class DefaultTypes:
    """AnyReader's `default_typestore`, built on first use: AnyReader reads its `fielddefs` only for a bag that
    carries no message definitions, and building a distribution's typestore costs 0.15-0.4 s."""

    def __init__(self, build: Callable[[], Typestore]):
        self._build = build

    @functools.cached_property
    def fielddefs(self) -> Typesdict:
        return self._build().fielddefs


class Typestores:
    """The typestores of the bags opened so far in this process, by the message types they define, the latest
    `size`: a bag whose types were seen is read with that bag's typestore instead of its own.

    AnyReader builds a typestore per bag, and generates its deserializers at the first message of each type:
    40-50 ms of CPU a bag for a camera's types, a third of converting a bench bag of 6 MB. The bags of an archive
    mostly define the same types (one robot, one recorder), so in a `convert` worker the deserializers are
    made once. Typestores with the same types generate the same deserializers.
    """

    def __init__(self, size: int = 8):
        self._size = size
        self._stores: OrderedDict[str, Typestore] = OrderedDict()

    def shared(self, typestore: Typestore) -> Typestore:
        """The typestore seen before with `typestore`'s types, else `typestore`, remembered."""
        key = repr(sorted(typestore.fielddefs.items()))
        if (seen := self._stores.get(key)) is not None:
            self._stores.move_to_end(key)
            return seen
        self._stores[key] = typestore
        if len(self._stores) > self._size:
            self._stores.popitem(last=False)
        return typestore


def open_files(paths: Sequence[Path], typestore: DefaultTypes) -> tuple[AnyReader, list[StorageFile]]:
    """The storage files as one bag, each read as far as it is readable."""
    reader = AnyReader(list(paths), default_typestore=typestore)  # type: ignore[arg-type]
    storages = [StorageFile(path, FORMATS[path.suffix]) for path in paths]
    for file_reader, storage in zip(reader.readers, storages):
        file_reader.storage = storage
    reader.open()
    return reader, storages


def open_folder(folder: Path, storage_files: Sequence[Path],
                typestore: DefaultTypes) -> tuple[AnyReader, list[StorageFile]]:  # fmt: skip
    """The folder as its metadata.yaml describes it, each storage file read as far as it is readable.

    Raises MetadataError when rosbags rejects the metadata, or when it does not describe
    `storage_files`, the folder's: one it does not list, a topic or a message count they do not have.
    """
    storages: list[StorageFile] = []

    def plugin(form: StorageFormat) -> Callable[[Path], StorageFile]:
        def storage_file(path: Path) -> StorageFile:
            storages.append(StorageFile(path, form))
            return storages[-1]

        return storage_file

    try:
        reader = AnyReader([folder], default_typestore=typestore)  # type: ignore[arg-type]
        directory = reader.readers[0].storage
        assert isinstance(directory, DirectoryReader)
        directory.STORAGE_PLUGINS = {"mcap": plugin(MCAP), "sqlite3": plugin(DB3)}
        reader.open()
    except Exception as err:  # rosbags' errors for a metadata file it cannot use; PermissionError as it is
        raise MetadataError((str(err).strip() or type(err).__name__).splitlines()[0].rstrip(".")) from None
    if problem := _mismatch(directory, storages, storage_files):
        reader.close()
        raise MetadataError(problem)
    return reader, storages


def _mismatch(directory: DirectoryReader, storages: Sequence[StorageFile], storage_files: Sequence[Path]) -> str | None:
    """How the folder's metadata misdescribes its storage files, if it does."""
    listed = {storage.path.name for storage in storages}
    if unlisted := [path.name for path in storage_files if path.name not in listed]:
        return f"does not list {', '.join(unlisted)}"
    for storage in storages:
        for stored in storage.connections:
            if not any(_delivers(connection, stored) for connection in directory.connections):
                return f"does not list topic {stored.topic} ({stored.msgtype}) of {storage.path.name}"
    if any(storage.damage for storage in storages):
        return None  # a damaged file holds fewer messages than the metadata rightly says
    said = _counts(directory.connections)
    held = _counts(c for storage in storages for c in storage.connections)
    for topic in sorted(said.keys() | held.keys()):
        if said[topic] != held[topic]:
            return f"says {said[topic]} messages on {topic}, its files hold {held[topic]}"
    return None


def _delivers(listed: Connection, stored: Connection) -> bool:
    """Whether rosbags' folder reader delivers `stored`'s messages as `listed`'s (DirectoryReader.messages' match)."""
    return (listed.topic == stored.topic and listed.msgtype == stored.msgtype and listed.ext == stored.ext
            and (not listed.digest or not stored.digest or listed.digest == stored.digest))  # fmt: skip


def _counts(connections: Iterable[Connection]) -> Counter[str]:
    counts: Counter[str] = Counter()
    for connection in connections:
        counts[connection.topic] += connection.msgcount
    return counts


def _metadata(count: int, first: int, last: int) -> ReaderMetadata:
    if not count:
        return _NO_MESSAGES
    return _NO_MESSAGES._replace(duration=last + 1 - first, start_time=first, end_time=last + 1, message_count=count)


def _text(err: Exception) -> str:
    """The error as a user reads it: with its type, unless its text says what it is."""
    if isinstance(err, (mcap_scan.McapDamage, db3_rows.NotABagDatabase, OSError)) or not str(err):
        return str(err) or type(err).__name__
    return f"{type(err).__name__}: {err}"
