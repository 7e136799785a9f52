"""Damaged bags: every message before the damage is kept, and what is lost is reported naming the file.

Real rosbag2 bags, written with rosbags (test/recordings.py), are damaged as a killed recorder, a bad disk or a
user's mistake leave them, read back through `Bag` and compared with the messages written. `Bag` either yields
messages and then raises BagError naming the damaged file, or raises BagError at open: never another exception,
never a hang. A seeded fuzz cuts and corrupts the three storage forms at any offset.
"""

from __future__ import annotations

import logging
import shutil
import signal
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from unittest import mock

import numpy as np
import pyarrow as pa
import pytest
import recordings
import yaml
from cli_process import running_bridge
from hypothesis import given, settings
from hypothesis import strategies as st
from recordings import TYPESTORE, camera_info_msg, image_msg, read_recording, write_bag
from rosbags.rosbag2 import CompressionFormat, CompressionMode, Writer
from rosbags.rosbag2.storage_mcap import McapReader

from bridge.sources.bag import Bag, BagError

T0 = 1_700_000_000_000_000_000
PERIOD = 10_000_000
IMAGES = 300  # 40x32 rgb8: 3.9 kB each, so that a sqlite3 row fits in one page and the MCAP bag has two 1 MiB chunks
K = [40.0, 0, 20.0, 0, 40.0, 16.0, 0, 0, 1]
FORMS = ["mcap", "zstd mcap", "sqlite3"]  # MCAP chunks uncompressed (as `ros2 bag record` by default) and zstd
NO_HANG = 30  # seconds any one read may take


@dataclass(frozen=True)
class Written:
    topic: str
    log_time: int
    cdr: bytes


def recording() -> list[tuple[str, Any, int]]:
    """A camera: an image every PERIOD (random pixels, so that zstd cannot shrink them), CameraInfo every third."""
    rng = np.random.default_rng(0)
    messages: list[tuple[str, Any, int]] = []
    for i in range(IMAGES):
        ns = T0 + i * PERIOD
        messages.append(("/cam/color", image_msg(rng.integers(0, 256, (32, 40, 3), np.uint8), "rgb8", ns), ns))
        if i % 3 == 0:
            messages.append(("/cam/info", camera_info_msg(K, 40, 32, ns), ns + 1))
    return messages


MESSAGES = recording()
WRITTEN = [Written(topic, ns, bytes(TYPESTORE.serialize_cdr(msg, msg.__msgtype__))) for topic, msg, ns in MESSAGES]


class _ZstdChunks(Writer):
    """rosbags' writer with zstd-compressed MCAP chunks, as `ros2 bag record --storage-preset-profile zstd_fast`."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.set_compression(CompressionMode.STORAGE, CompressionFormat.ZSTD)


def write(folder: Path, form: str, messages: list[tuple[str, Any, int]] = MESSAGES) -> Path:
    """A real bag folder of `messages` in one of FORMS."""
    if form == "zstd mcap":
        with mock.patch.object(recordings, "Writer", _ZstdChunks):
            return write_bag(folder, messages, "mcap")
    return write_bag(folder, messages, form)


def storage_file(folder: Path) -> Path:
    (path,) = [p for p in folder.iterdir() if p.suffix in (".mcap", ".db3")]
    return path


def chunks(mcap: Path) -> list[tuple[int, int, int, int]]:
    """Where each chunk of an intact MCAP file starts and ends, and its first and last log time, by rosbags."""
    reader = McapReader(mcap)
    reader.open()
    try:
        return [(c.chunk_start_offset, c.chunk_start_offset + c.chunk_length, c.message_start_time, c.message_end_time)
                for c in reader.chunks]  # fmt: skip
    finally:
        reader.close()


@dataclass(frozen=True)
class Intact:
    """An intact bag folder, and for each message written, from where in its storage file a damage leaves it whole."""

    folder: Path
    data: bytes = field(repr=False)  # its storage file
    ends: list[int] = field(repr=False)  # a damage at or after ends[i] must not lose WRITTEN[i]

    def before(self, offset: int) -> list[Written]:
        return [m for m, end in zip(WRITTEN, self.ends) if end <= offset]


def intact(folder: Path, form: str) -> Intact:
    """MCAP: a message ends with its record, or for zstd with its chunk (what decodes of a cut chunk is a bonus).
    sqlite3: with the page that holds its row (SQLite fills a leaf page from its end: a damaged page loses its rows).
    """
    path = storage_file(folder)
    data = path.read_bytes()
    if form == "sqlite3":
        page = int.from_bytes(data[16:18], "big")
        ends = [(data.index(m.cdr) // page + 1) * page for m in WRITTEN]
    elif form == "mcap":
        ends = [data.index(m.cdr) + len(m.cdr) for m in WRITTEN]
    else:
        ends = [next(end for _, end, first, last in chunks(path) if first <= m.log_time <= last) for m in WRITTEN]
    return Intact(folder, data, ends)


@pytest.fixture(scope="module")
def bags(tmp_path_factory) -> dict[str, Intact]:
    """The intact bag of each form; tests damage copies of them."""
    root = tmp_path_factory.mktemp("intact")
    return {form: intact(write(root / form.replace(" ", "_"), form), form) for form in FORMS}


def copy(bag: Intact, to: Path) -> Path:
    shutil.copytree(bag.folder, to)
    return to


@contextmanager
def no_hang(seconds: int = NO_HANG) -> Iterator[None]:
    def hung(*_: Any) -> None:
        raise TimeoutError(f"reading took more than {seconds} s")

    previous = signal.signal(signal.SIGALRM, hung)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def read(path: Path) -> tuple[list[Written], BagError | None]:
    """Every message `Bag` yields, and the BagError it raises (at open or at the end), if any; anything else fails."""
    got: list[Written] = []
    with no_hang():
        try:
            with Bag(path) as bag:
                for message in bag.messages(set(bag.topics())):
                    got.append(Written(message.topic, message.log_time_ns, bytes(message.raw)))
        except BagError as err:
            return got, err
    return got, None


def assert_names(error: BagError | None, path: Path) -> None:
    assert error is not None, f"{path} is damaged, but no error says so"
    assert path.name in str(error), error


# -- metadata.yaml ----------------------------------------------------------------------------------


def garble(bag: Path, how: str) -> str:
    """Garble the bag's metadata.yaml; what the warning must say."""
    metadata = bag / "metadata.yaml"
    document = yaml.safe_load(metadata.read_text())
    info = document["rosbag2_bagfile_information"]
    if how == "not YAML":
        metadata.write_text("rosbag2_bagfile_information: {version: 8, [\n")
        return "Could not load YAML"
    if how == "empty":
        metadata.write_text("")
        return "metadata"
    if how == "wrong shape":
        document = [info]
    elif how == "wrong version":
        info["version"] = 99
    elif how == "missing key":
        del info["topics_with_message_count"]
    elif how == "missing storage file":
        info["relative_file_paths"] = ["elsewhere.mcap"]
    elif how == "wrong message count":
        info["topics_with_message_count"][0]["message_count"] += 7
    elif how == "missing topic":
        del info["topics_with_message_count"][1]
    elif how == "unlisted storage file":
        info["relative_file_paths"] = []
    metadata.write_text(yaml.safe_dump(document))
    return {"wrong shape": "metadata", "wrong version": "version 99", "missing key": "topics_with_message_count",
            "missing storage file": "elsewhere.mcap", "wrong message count": "messages on",
            "missing topic": "does not list topic", "unlisted storage file": "does not list"}[how]  # fmt: skip


GARBLINGS = ["not YAML", "empty", "wrong shape", "wrong version", "missing key", "missing storage file",
             "wrong message count", "missing topic", "unlisted storage file"]  # fmt: skip


@pytest.mark.parametrize("how", GARBLINGS)
@pytest.mark.parametrize("form", ["mcap", "sqlite3"])
def test_a_garbled_metadata_yaml_falls_back_to_the_storage_files(bags, tmp_path, caplog, form, how):
    bag = copy(bags[form], tmp_path / "bag")
    problem = garble(bag, how)

    got, error = read(bag)
    assert error is None
    assert sorted(got, key=lambda m: m.log_time) == WRITTEN
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1, warnings
    assert warnings[0].startswith(f"{bag / 'metadata.yaml'}: ") and problem in warnings[0], warnings
    assert f"reading {storage_file(bag).name} directly" in warnings[0]


@pytest.mark.parametrize("form", FORMS)
def test_an_intact_bag_is_read_whole_without_a_word(bags, caplog, form):
    got, error = read(bags[form].folder)
    assert (got, error) == (WRITTEN, None)
    assert not caplog.records


def test_a_metadata_yaml_alone_is_an_error_naming_it(bags, tmp_path):
    bag = copy(bags["mcap"], tmp_path / "bag")
    storage_file(bag).unlink()
    got, error = read(bag)
    assert got == []
    assert str(error).startswith(f"{bag / 'metadata.yaml'}: ") and "no .mcap or .db3 file" in str(error), error


# -- storage files cut short or damaged ---------------------------------------------------------------


def test_half_a_db3_keeps_every_row_before_the_cut(bags, tmp_path):
    bag = copy(bags["sqlite3"], tmp_path / "bag")
    db3 = storage_file(bag)
    half = len(bags["sqlite3"].data) // 2
    db3.write_bytes(bags["sqlite3"].data[:half])

    got, error = read(bag)
    expected = bags["sqlite3"].before(half)
    assert len(expected) > len(WRITTEN) / 3
    assert got == expected  # in rowid order, the order they were recorded in
    assert str(error).startswith(f"{db3}: damaged") and f"read its first {len(expected)} messages" in str(error)


@pytest.mark.parametrize("short", [1, 2048], ids=["a byte", "half a page"])
def test_a_db3_cut_within_a_page_garbles_no_row(bags, tmp_path, short):
    """SQLite reads the missing end of the last page as zeros: the row that ran into it is lost, not garbled."""
    bag = copy(bags["sqlite3"], tmp_path / "bag")
    db3 = storage_file(bag)
    cut = len(bags["sqlite3"].data) - short
    db3.write_bytes(bags["sqlite3"].data[:cut])

    got, error = read(bag)
    assert set(bags["sqlite3"].before(cut)) <= set(got) <= set(WRITTEN)
    assert str(error).startswith(f"{db3}: "), error


@pytest.mark.parametrize("form", ["mcap", "zstd mcap"])
def test_a_cut_mcap_keeps_what_its_last_chunk_holds_before_the_cut(bags, tmp_path, form):
    bag = copy(bags[form], tmp_path / "bag")
    mcap = storage_file(bag)
    (_, _, _, first_chunk_ends), (start, end, _, _) = chunks(bags[form].folder / mcap.name)
    cut = start + (end - start) * 4 // 5  # a zstd chunk of random pixels decodes by blocks of 128 kB
    mcap.write_bytes(bags[form].data[:cut])

    got, error = read(bag)
    in_first_chunk = sum(1 for m in WRITTEN if m.log_time <= first_chunk_ends)
    assert in_first_chunk < len(got) < len(WRITTEN)  # the cut chunk is decoded as far as it goes
    assert got == WRITTEN[: len(got)]
    assert str(error).startswith(f"{mcap}: truncated (recorder killed?)"), error
    assert f"read the {len(got)} messages" in str(error), error


def test_an_mcap_record_damaged_midway_keeps_the_messages_before_it(bags, tmp_path):
    """rosbags reads a chunk whole, so that it loses the chunk; what comes before the damaged record is read on."""
    bag = copy(bags["mcap"], tmp_path / "bag")
    mcap = storage_file(bag)
    data = bytearray(bags["mcap"].data)
    record = data.index(WRITTEN[100].cdr) - 22 - 8  # the message record's length field
    data[record : record + 8] = (2**40).to_bytes(8, "little")
    mcap.write_bytes(bytes(data))

    got, error = read(bag)
    assert got == WRITTEN[:100]
    assert str(error).startswith(f"{mcap}: damaged at byte ") and "read the 100 messages before it" in str(error), error


def test_a_record_rosbags_skips_without_a_word_is_reported(bags, tmp_path):
    """rosbags passes over a chunk's record of unknown opcode: the message in it is lost, and said to be."""
    bag = copy(bags["mcap"], tmp_path / "bag")
    mcap = storage_file(bag)
    data = bytearray(bags["mcap"].data)
    data[data.index(WRITTEN[100].cdr) - 22 - 9] = 0x7F  # the message record's opcode
    mcap.write_bytes(bytes(data))

    got, error = read(bag)
    assert got == WRITTEN[:100] + WRITTEN[101:]
    assert str(error) == f"{mcap}: damaged: 1 of the messages it lists are unreadable"


def test_a_db3_with_a_damaged_index_is_read_whole_in_file_order(bags, tmp_path):
    bag = copy(bags["sqlite3"], tmp_path / "bag")
    db3 = storage_file(bag)
    data = bytearray(bags["sqlite3"].data)
    page = int.from_bytes(data[16:18], "big")
    index_page = next(p for p in range(len(data) // page) if data[p * page] == 0x0A)  # the first index leaf page
    data[index_page * page : index_page * page + 8] = b"\xff" * 8
    db3.write_bytes(bytes(data))

    got, error = read(bag)
    assert sorted(got, key=lambda m: m.log_time) == WRITTEN
    assert_names(error, db3)


@pytest.mark.parametrize("suffix", [".mcap", ".db3"])
def test_a_zero_length_storage_file_is_an_error_naming_it(tmp_path, suffix):
    empty = tmp_path / f"empty{suffix}"
    empty.touch()
    got, error = read(empty)
    assert got == []
    assert str(error).startswith(f"{empty}: cannot read"), error


def test_an_mcap_with_a_bad_magic_is_an_error_naming_it(bags, tmp_path):
    mcap = tmp_path / "bad.mcap"
    mcap.write_bytes(b"\x89MCAQ0\r\n" + bags["mcap"].data[8:])
    got, error = read(mcap)
    assert got == [] and str(error) == f"{mcap}: cannot read: not an MCAP file (no MCAP magic)", error


def test_a_readme_given_as_the_bag_is_an_error_naming_it(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text("# my recordings\n")
    got, error = read(readme)
    assert got == [] and str(error) == f"{readme}: not a rosbag2 bag (a folder, a .mcap or a .db3 file)"


def test_a_folder_of_unrelated_files_is_an_error_naming_it(tmp_path):
    (tmp_path / "notes.txt").write_text("calibration on Monday\n")
    (tmp_path / "params.yaml").write_text("rate: 30\n")
    got, error = read(tmp_path)
    assert got == [] and str(error).startswith(f"{tmp_path}: not a rosbag2 bag"), error


def reads_unreadable_files(tmp_path: Path) -> bool:
    """Whether this process reads files whatever their permissions say, as root does."""
    probe = tmp_path / "probe"
    probe.touch(mode=0)
    try:
        probe.open("rb").close()
        return True
    except PermissionError:
        return False


@pytest.mark.parametrize("unreadable", ["metadata.yaml", "storage file"])
def test_a_file_without_read_permission(bags, tmp_path, caplog, unreadable):
    if reads_unreadable_files(tmp_path):
        pytest.skip("this process reads any file (root)")
    bag = copy(bags["sqlite3"], tmp_path / "bag")
    path = bag / "metadata.yaml" if unreadable == "metadata.yaml" else storage_file(bag)
    path.chmod(0)
    got, error = read(bag)
    if unreadable == "metadata.yaml":
        assert (got, error) == (WRITTEN, None)
        assert "Permission denied" in caplog.text and f"{path}: " in caplog.text
    else:
        assert got == [] and str(error).startswith(f"{path}: cannot read") and "Permission denied" in str(error)


def split_bag(folder: Path, form: str) -> list[Path]:
    """A bag split into two storage files as rosbag2 splits it (`--max-bag-size`), with one metadata.yaml."""
    half = len(MESSAGES) // 2
    parts = [write(folder.with_name(f"{folder.name}_{i}"), form, part) for i, part in
             enumerate([MESSAGES[:half], MESSAGES[half:]])]  # fmt: skip
    folder.mkdir()
    infos = [yaml.safe_load((part / "metadata.yaml").read_text())["rosbag2_bagfile_information"] for part in parts]
    files = [Path(shutil.move(storage_file(part), folder / f"{folder.name}_{i}{storage_file(part).suffix}"))
             for i, part in enumerate(parts)]  # fmt: skip
    info = infos[0]
    info["relative_file_paths"] = [f.name for f in files]
    info["files"] = [{**i["files"][0], "path": f.name} for i, f in zip(infos, files)]
    info["message_count"] = sum(i["message_count"] for i in infos)
    info["duration"]["nanoseconds"] = MESSAGES[-1][2] - MESSAGES[0][2]
    for topic, other in zip(info["topics_with_message_count"], infos[1]["topics_with_message_count"]):
        topic["message_count"] += other["message_count"]
    (folder / "metadata.yaml").write_text(yaml.safe_dump({"rosbag2_bagfile_information": info}))
    return files


@pytest.mark.parametrize("damage", ["cut in half", "zero length"])
@pytest.mark.parametrize("damaged", [0, 1], ids=["first file", "second file"])
@pytest.mark.parametrize("form", ["mcap", "sqlite3"])
def test_a_split_bag_with_one_damaged_file_keeps_the_other(tmp_path, caplog, form, damaged, damage):
    bag = tmp_path / "bag"
    files = split_bag(bag, form)
    data = files[damaged].read_bytes()
    files[damaged].write_bytes(data[: len(data) // 2] if damage == "cut in half" else b"")

    got, error = read(bag)
    half = len(WRITTEN) // 2
    other = WRITTEN[half:] if damaged == 0 else WRITTEN[:half]
    assert set(other) <= set(got) <= set(WRITTEN)
    if damage == "cut in half":
        assert len(got) > len(other)  # and some of the damaged file's
    assert_names(error, files[damaged])
    assert not caplog.records  # the metadata is right: it is a file that is damaged


# -- seeded fuzz: any cut, any corruption ------------------------------------------------------------


@settings(derandomize=True, database=None, deadline=None, max_examples=150)
@given(form=st.sampled_from(FORMS), damage=st.sampled_from(["cut", "overwritten", "inserted"]), where=st.floats(0, 1),
       garbage=st.binary(min_size=1, max_size=64))  # fmt: skip
def test_damage_anywhere_keeps_every_message_before_it(bags, form, damage, where, garbage):
    """A cut at any offset, or garbage written over or into a file at any offset, of any storage form.

    Garbage in a message's data goes unnoticed (rosbags writes no chunk checksums); a message that goes missing
    must be reported.
    """
    data = bags[form].data
    offset = int(where * (len(data) - 1))
    rest = data[offset + len(garbage) :] if damage == "overwritten" else data[offset:]
    damaged = data[:offset] if damage == "cut" else data[:offset] + garbage + rest
    with tempfile.TemporaryDirectory() as tmp:  # one per example: hypothesis runs them all in one test
        bag = copy(bags[form], Path(tmp) / "bag")
        storage_file(bag).write_bytes(damaged)
        got, error = read(bag)
        kept = set(got)
        missing = [m for m in bags[form].before(offset) if m not in kept]
        assert not missing, f"{len(missing)} messages before the damage lost, the first at {missing[0].log_time}"
        if damage == "cut":
            assert kept <= set(WRITTEN)  # a cut garbles nothing
        if len(got) < len(WRITTEN):
            assert_names(error, storage_file(bag))


# -- the command line ---------------------------------------------------------------------------------


def stamps_of_images(rrd: Path) -> list[int]:
    table = read_recording(rrd)
    stamps = table.column("ros2_timestamp").cast(pa.int64()).to_pylist()
    return sorted(t for t, cell in zip(stamps, table.column("/cam/color:Image:buffer").to_pylist()) if cell is not None)


@pytest.mark.parametrize("damage", ["garbled metadata.yaml", "half a db3"])
def test_the_cli_converts_what_is_readable_and_names_the_file(bags, tmp_path, damage):
    bag = copy(bags["sqlite3"], tmp_path / "bag")
    db3 = storage_file(bag)
    if damage == "garbled metadata.yaml":
        garble(bag, "not YAML")
        expected, named = WRITTEN, bag / "metadata.yaml"
    else:
        half = len(bags["sqlite3"].data) // 2
        db3.write_bytes(bags["sqlite3"].data[:half])
        expected, named = bags["sqlite3"].before(half), db3
    rrd = tmp_path / "out.rrd"
    with running_bridge("replay", bag, "-o", rrd, "--no-progress") as process:
        _, stderr = process.communicate(timeout=120)

    assert "Traceback" not in stderr, stderr
    assert str(named) in stderr, stderr
    assert stamps_of_images(rrd) == [m.log_time for m in expected if m.topic == "/cam/color"]
