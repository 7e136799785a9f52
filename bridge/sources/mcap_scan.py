"""MCAP files read record by record from their start, as far as they are intact.

rosbags opens an MCAP file from the summary at its end, which a recorder writes last, and reads
each chunk whole: a file cut short (recorder killed, disk full, copy interrupted) has no summary,
and one damaged byte in a chunk's framing loses the chunk. This reads the data section in file
order instead, as `mcap recover` does, and stops at the first record that is cut short or does not
parse, after everything before it: the leading records of a chunk that is cut or damaged too (a
compressed chunk is decompressed as far as its data decodes).
"""

from __future__ import annotations

import struct
import sys
from binascii import crc32
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, field
from typing import BinaryIO, Protocol, Union

import lz4.frame

if sys.version_info >= (3, 14):
    from compression import zstd
else:
    from backports import zstd

MAGIC = b"\x89MCAP0\r\n"  # at the start and at the very end of every complete MCAP file
HEADER, FOOTER, SCHEMA, CHANNEL, MESSAGE, CHUNK, DATA_END = 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x0F
_NAMES = {HEADER: "header", SCHEMA: "schema", CHANNEL: "channel", MESSAGE: "message", CHUNK: "chunk"}
_RECORD = struct.Struct("<BQ")  # opcode, content length
_CHUNK = struct.Struct("<QQQI")  # message start and end time, uncompressed size and CRC
_MESSAGE = struct.Struct("<HIQQ")  # channel id, sequence, log time, publish time
_IDS = struct.Struct("<HH")  # a channel's id and schema id
_U16, _U32, _U64 = struct.Struct("<H"), struct.Struct("<I"), struct.Struct("<Q")
_PIECE = 1 << 16  # compressed bytes decoded at a time: what decodes before a damaged block is kept


class _Decompressor(Protocol):
    eof: bool

    def decompress(self, data: bytes, max_length: int = -1) -> bytes: ...


_DECOMPRESSORS: dict[str, Callable[[], _Decompressor]] = {
    "zstd": zstd.ZstdDecompressor,
    "lz4": lz4.frame.LZ4FrameDecompressor,
}


@dataclass(frozen=True)
class Schema:
    id: int
    name: str  # the message type
    encoding: str  # of `data`: ros2msg, ros2idl
    data: str


@dataclass(frozen=True)
class Channel:
    id: int
    schema_id: int  # 0: none
    topic: str
    message_encoding: str
    metadata: dict[str, str]


@dataclass(frozen=True)
class Message:
    channel_id: int
    log_time: int
    data: memoryview


Record = Union[Schema, Channel, Message]


class McapDamage(Exception):
    """Where an MCAP file stops being readable: the record at `offset`, and why."""

    def __init__(self, offset: int, reason: str, cut_short: bool = False):
        super().__init__(f"at byte {offset}: {reason}" if offset else reason)
        self.offset = offset
        self.reason = reason
        self.cut_short = cut_short  # the file ends there, without its footer


@dataclass
class _Seen:
    schemas: set[int] = field(default_factory=set)
    channels: set[int] = field(default_factory=set)


def scan(file: BinaryIO) -> Iterator[Record]:
    """The schemas, channels and messages of a ROS 2 MCAP file, in file order, up to the end of its data.

    Raises McapDamage at the first record that is cut short or does not parse, after every record before it.
    """
    size = file.seek(0, 2)
    file.seek(0)
    if file.read(len(MAGIC)) != MAGIC:
        raise McapDamage(0, "empty file" if size == 0 else "not an MCAP file (no MCAP magic)", cut_short=size == 0)
    complete = ends_with_magic(file)
    seen = _Seen()
    offset = len(MAGIC)
    while True:
        file.seek(offset)
        prefix = file.read(_RECORD.size)
        if len(prefix) < _RECORD.size:
            raise McapDamage(offset, "ends without its footer", cut_short=not complete)
        opcode, length = _RECORD.unpack(prefix)
        end = offset + _RECORD.size + length
        if offset == len(MAGIC) and opcode != HEADER:
            raise McapDamage(offset, f"no header record after the magic (opcode {opcode:#04x})")
        if opcode in (FOOTER, DATA_END):
            return
        if not HEADER <= opcode <= DATA_END and opcode < 0x80:  # 0x80 and up: records of other writers, skipped
            raise McapDamage(offset, f"unknown record opcode {opcode:#04x}")
        if end > size and (complete or opcode != CHUNK):
            what = _NAMES.get(opcode, "record")
            raise McapDamage(offset, f"{what} runs past the end of the file", cut_short=not complete)
        if opcode == CHUNK:
            yield from _chunk(file, offset, length, size, seen)
        elif opcode in _NAMES:
            record = _parse(opcode, memoryview(file.read(length)), seen, offset)
            if record is not None:
                yield record
        offset = end


def ends_with_magic(file: BinaryIO) -> bool:
    """Whether the file ends as a complete MCAP file does; one cut short has lost its footer."""
    if file.seek(0, 2) < 2 * len(MAGIC):
        return False
    file.seek(-len(MAGIC), 2)
    return file.read() == MAGIC


def _chunk(file: BinaryIO, offset: int, length: int, size: int, seen: _Seen) -> Iterator[Record]:
    """The records of the chunk at `offset`, as far as the file has them and they decode; McapDamage if not all."""
    header = _CHUNK.size + _U32.size + 255 + _U64.size  # the fields before the records, with a long compression name
    body = file.read(min(length, size - offset - _RECORD.size, header))
    cut = offset + _RECORD.size + length > size
    try:
        _, _, uncompressed_size, crc = _CHUNK.unpack_from(body)
        compression, at = _string(memoryview(body), _CHUNK.size)
        (compressed_size,) = _U64.unpack_from(body, at)
    except (struct.error, UnicodeDecodeError, ValueError) as err:
        raise McapDamage(offset, f"chunk header {'cut short' if cut else f'damaged ({err})'}", cut_short=cut) from None
    at += _U64.size
    if at + compressed_size > length:
        raise McapDamage(offset, "chunk header damaged (its sizes disagree)")
    file.seek(offset + _RECORD.size + at)
    data = file.read(compressed_size)
    records, problem = _decompress(compression, data, uncompressed_size, whole=not cut)
    if problem is None and not cut and crc and crc32(records) != crc:
        problem = "chunk fails its checksum"
    yield from _chunk_records(memoryview(records), offset, seen, whole=problem is None and not cut)
    if cut:
        raise McapDamage(offset, "chunk cut short", cut_short=True)
    if problem is not None:
        raise McapDamage(offset, problem)


def _decompress(compression: str, data: bytes, size: int, whole: bool) -> tuple[bytes, str | None]:
    """The chunk's records as far as `data` decodes (at most `size` bytes), and why not all of them (None: all)."""
    if compression == "":
        records = data[:size]
    elif (new := _DECOMPRESSORS.get(compression)) is None:
        return b"", f"unknown chunk compression {compression!r}"
    else:
        decompressor, out = new(), bytearray()
        for at in range(0, len(data), _PIECE):
            try:
                out += decompressor.decompress(data[at : at + _PIECE], max_length=size + 1 - len(out))
            except Exception as err:  # zstd and lz4 raise their own errors for damaged data
                return bytes(out[:size]), f"chunk's {compression} data damaged ({err})"
            if len(out) > size:
                break
        if whole and not decompressor.eof and len(out) <= size:
            return bytes(out), f"chunk's {compression} data ends early"
        records = bytes(out)
    if len(records) > size or (whole and len(records) < size):
        return records[:size], "chunk holds another size than its header says"
    return records, None


def chunk_messages(records: memoryview, offset: int, channels: Collection[int]) -> Iterator[Message]:
    """The messages of an indexed file's chunk at `offset`, whose decompressed `records` hold `channels`' messages.

    McapDamage for a record that does not parse, as when scanning; a record of another kind is passed over,
    as rosbags does (its message, if it was one, is missing from the count the index gives).
    """
    seen = _Seen(channels=set(channels))
    for record in _chunk_records(records, offset, seen, whole=True, others=True):
        if isinstance(record, Message):
            yield record


def _chunk_records(records: memoryview, offset: int, seen: _Seen, whole: bool, others: bool = False) -> Iterator[Record]:
    """The complete records in a chunk's (possibly partial) records; McapDamage for one that does not parse.

    `others`: pass over records a chunk does not hold (schemas, channels and messages), rather than stop there.
    """
    at = 0
    while at + _RECORD.size <= len(records):
        opcode, length = _RECORD.unpack_from(records, at)
        end = at + _RECORD.size + length
        if end > len(records):
            break
        if opcode not in (SCHEMA, CHANNEL, MESSAGE):
            if others:
                at = end
                continue
            raise McapDamage(offset, f"record {at} bytes into the chunk has opcode {opcode:#04x}")
        record = _parse(opcode, records[at + _RECORD.size : end], seen, offset, in_chunk=at)
        assert record is not None
        yield record
        at = end
    if whole and at != len(records):
        raise McapDamage(offset, f"record {at} bytes into the chunk runs past its end")


def _parse(opcode: int, body: memoryview, seen: _Seen, offset: int, in_chunk: int | None = None) -> Record | None:
    """The record of `body`, at `offset` or `in_chunk` bytes into the chunk there; McapDamage if it does not parse."""
    try:
        if opcode == MESSAGE:
            channel_id, _, log_time, _ = _MESSAGE.unpack_from(body)
            if channel_id not in seen.channels:
                raise ValueError(f"on channel {channel_id}, which no channel record before it defines")
            return Message(channel_id, log_time, body[_MESSAGE.size :])
        if opcode == SCHEMA:
            (schema_id,) = _U16.unpack_from(body)
            name, at = _string(body, _U16.size)
            encoding, at = _string(body, at)
            data, _ = _string(body, at)
            seen.schemas.add(schema_id)
            return Schema(schema_id, name, encoding, data)
        if opcode == CHANNEL:
            channel_id, schema_id = _IDS.unpack_from(body)
            topic, at = _string(body, _IDS.size)
            encoding, at = _string(body, at)
            if schema_id and schema_id not in seen.schemas:
                raise ValueError(f"of schema {schema_id}, which no schema record before it defines")
            seen.channels.add(channel_id)
            return Channel(channel_id, schema_id, topic, encoding, _map(body, at))
        profile, _ = _string(body, 0)
        if profile != "ros2":
            raise ValueError(f"profile {profile!r}: not a ROS 2 recording")
        return None
    except (struct.error, UnicodeDecodeError, ValueError) as err:
        what = f"{_NAMES[opcode]} record" + ("" if in_chunk is None else f" {in_chunk} bytes into the chunk")
        raise McapDamage(offset, f"{what} damaged ({err})") from None


def _string(body: memoryview, at: int) -> tuple[str, int]:
    """The length-prefixed UTF-8 string at `at`, and where it ends."""
    (length,) = _U32.unpack_from(body, at)
    end = at + _U32.size + length
    if end > len(body):
        raise ValueError("a string runs past its record")
    return str(body[at + _U32.size : end], "utf-8"), end


def _map(body: memoryview, at: int) -> dict[str, str]:
    (length,) = _U32.unpack_from(body, at)
    end = at + _U32.size + length
    if end > len(body):
        raise ValueError("a map runs past its record")
    items, at = {}, at + _U32.size
    while at < end:
        key, at = _string(body, at)
        items[key], at = _string(body, at)
    if at != end:
        raise ValueError("a map runs past its length")
    return items
