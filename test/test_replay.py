"""End-to-end replay: real rosbag2 bags through `ros2-rerun-bridge replay`, the .rrd read back through Rerun."""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import apsw
import cv2
import numpy as np
import pyarrow as pa
import pytest
from recordings import TYPESTORE, camera_info_msg, compressed_msg, image_msg, read_recording, tf_msg
from rosbags.rosbag2 import CompressionFormat, CompressionMode, StoragePlugin, Writer

from bridge.cli import main

REPO = Path(__file__).resolve().parents[1]
T0 = 1_700_000_000_000_000_000  # first header stamp (ns)
PERIOD = 100_000_000  # 10 Hz
FRAMES = 3
CAMERA_FRAME = "camera_optical_frame"
IMAGE_PLANE = CAMERA_FRAME + "_image_plane"
K = [20.0, 0, 16.0, 0, 21.0, 12.0, 0, 0, 1]
TF = ("world", "base_link", (1.0, 2.0, 3.0), (0.0, 0.0, 0.6, 0.8))
STATIC_TFS = [("base_link", "camera_link", (0.1, 0.0, 0.5), (0.0, 0.0, 0.0, 1.0)),
              ("camera_link", CAMERA_FRAME, (0.0, 0.0, 0.0), (-0.5, 0.5, -0.5, 0.5))]  # fmt: skip
TOPICS = ["/cam/color", "/cam/depth", "/cam/depth_float", "/cam/jpeg", "/cam/info", "/tf", "/tf_static"]

# Every storage form the CLI accepts: rosbag2 folders, and storage files given directly (no metadata.yaml).
# storage, layout and, as `ros2 bag record --compression-mode file|message --compression-format zstd` writes them,
# compressed bags: whole storage files (the reader unpacks them first) or each message on its own.
BAG_FORMS = ["mcap folder", "sqlite3 folder", "mcap file", "db3 file", "mcap folder zstd-files", "sqlite3 folder zstd-messages"]


def stamp(i: int) -> int:
    return T0 + i * PERIOD


def log_time(i: int, topic: str) -> int:
    """Recorded a little after its stamp, each topic at its own offset, so that every message has its own log time."""
    return stamp(i) + 5_000_000 + TOPICS.index(topic) * 1000


@dataclass(frozen=True)
class Frame:
    color: np.ndarray  # rgb8
    depth_mm: np.ndarray  # 16UC1
    depth_m: np.ndarray  # 32FC1
    jpeg: bytes


def frame(i: int) -> Frame:
    rng = np.random.default_rng(i)
    color = rng.integers(0, 256, (24, 32, 3), np.uint8)
    depth_mm = rng.integers(0, 5000, (24, 32)).astype(np.uint16)
    return Frame(color, depth_mm, depth_mm.astype(np.float32) / 1000, cv2.imencode(".jpg", color)[1].tobytes())


def camera_messages(frames: int = FRAMES) -> list[tuple[str, Any, int]]:
    """A camera driver's output: colour, two depth streams, jpeg, CameraInfo, /tf and two /tf_static messages."""
    messages = [("/tf_static", tf_msg([tf], T0), log_time(0, "/tf_static") + i) for i, tf in enumerate(STATIC_TFS)]
    for i in range(frames):
        f = frame(i)
        messages += [
            ("/cam/color", image_msg(f.color, "rgb8", stamp(i)), log_time(i, "/cam/color")),
            ("/cam/depth", image_msg(f.depth_mm, "16UC1", stamp(i)), log_time(i, "/cam/depth")),
            ("/cam/depth_float", image_msg(f.depth_m, "32FC1", stamp(i)), log_time(i, "/cam/depth_float")),
            ("/cam/jpeg", compressed_msg(f.jpeg, "jpeg", stamp(i)), log_time(i, "/cam/jpeg")),
            ("/cam/info", camera_info_msg(K, 32, 24, stamp(i)), log_time(i, "/cam/info")),
            ("/tf", tf_msg([TF], stamp(i)), log_time(i, "/tf")),
        ]
    return messages


def serialized(messages: list[tuple[str, Any, int]]) -> list[tuple[str, str, bytes, int]]:
    return [(topic, msg.__msgtype__, TYPESTORE.serialize_cdr(msg, msg.__msgtype__), ns) for topic, msg, ns in messages]


def write_cdr_bag(path: Path, messages: list[tuple[str, str, bytes, int]], form: str = "mcap folder") -> Path:
    """A real bag of already serialized (topic, msgtype, cdr, log time) messages; returns what to pass the CLI.

    Raw bytes, so that tests can store CDR no deserializer accepts.
    """
    storage, layout, *compression = form.split()
    folder = path.with_name(path.name + "_folder") if layout != "folder" else path
    plugin = StoragePlugin.SQLITE3 if storage in ("sqlite3", "db3") else StoragePlugin.MCAP
    connections: dict[str, Any] = {}
    writer = Writer(folder, version=8, storage_plugin=plugin)
    if compression:
        mode = CompressionMode.FILE if compression == ["zstd-files"] else CompressionMode.MESSAGE
        writer.set_compression(mode, CompressionFormat.ZSTD)
    with writer:
        for topic, msgtype, raw, ns in messages:
            if topic not in connections:
                connections[topic] = writer.add_connection(topic, msgtype, typestore=TYPESTORE)
            writer.write(connections[topic], ns, raw)
    if layout == "folder":
        return folder
    (storage_file,) = [p for p in folder.iterdir() if p.suffix in (".mcap", ".db3")]
    return Path(shutil.move(storage_file, path.with_suffix(storage_file.suffix)))


def write_bag_as(path: Path, messages: list[tuple[str, Any, int]], form: str = "mcap folder") -> Path:
    """A real bag of (topic, message, log time) in one of BAG_FORMS; returns what to pass the CLI."""
    return write_cdr_bag(path, serialized(messages), form)


def replay(*args: str | Path) -> int:
    return main(["replay", "--no-progress", *map(str, args)])


def write_config(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


# -- reading the recording back ----------------------------------------------------------------


def by_time(table: pa.Table, name: str, index: str = "message_log_time") -> dict[int, Any]:
    """The non-null cells of column `ENTITY:Archetype:field`, keyed by the row's time on `index` (ns)."""
    assert name in table.column_names, f"{name} not among {sorted(table.column_names)}"
    times = table.column(index).cast(pa.int64()).to_pylist()
    return {t: cell for t, cell in zip(times, table.column(name).to_pylist()) if cell is not None}


def entities(table: pa.Table) -> set[str]:
    return {name.split(":")[0] for name in table.column_names if ":" in name}


def stamps_of(table: pa.Table, entity_column: str) -> list[int]:
    """The ros2_timestamp of each row where the column has data, in log-time order."""
    stamps = dict(zip(table.column("message_log_time").cast(pa.int64()).to_pylist(),
                      table.column("ros2_timestamp").cast(pa.int64()).to_pylist()))  # fmt: skip
    return [stamps[t] for t in sorted(by_time(table, entity_column))]


def pixels(cell: list) -> bytes:
    (buffer,) = cell
    return bytes(buffer)


def is_static(table: pa.Table, name: str) -> bool:
    return (table.schema.field(name).metadata or {}).get(b"rerun:is_static") == b"true"


# -- the whole camera, every storage form ---------------------------------------------------------


@pytest.fixture(scope="module", params=BAG_FORMS)
def camera_recording(request, tmp_path_factory) -> pa.Table:
    tmp = tmp_path_factory.mktemp(request.param.replace(" ", "_"))
    bag = write_bag_as(tmp / "camera", camera_messages(), request.param)
    assert replay(bag, "-o", tmp / "out.rrd") == 0
    return read_recording(tmp / "out.rrd", index="message_log_time")


def test_entity_paths_are_topic_names(camera_recording):
    assert entities(camera_recording) == set(TOPICS)


def test_colour_pixels_and_format(camera_recording):
    buffers = by_time(camera_recording, "/cam/color:Image:buffer")
    for i in range(FRAMES):
        assert pixels(buffers[log_time(i, "/cam/color")]) == frame(i).color.tobytes()
    (fmt,) = by_time(camera_recording, "/cam/color:Image:format")[log_time(0, "/cam/color")]
    assert (fmt["width"], fmt["height"]) == (32, 24)


@pytest.mark.parametrize(("topic", "pixels_of", "meter"), [
    ("/cam/depth", lambda f: f.depth_mm, 1000.0),
    ("/cam/depth_float", lambda f: f.depth_m, 1.0),
])  # fmt: skip
def test_depth_pixels_and_meter(camera_recording, topic, pixels_of, meter):
    buffers = by_time(camera_recording, f"{topic}:DepthImage:buffer")
    meters = by_time(camera_recording, f"{topic}:DepthImage:meter")
    for i in range(FRAMES):
        assert pixels(buffers[log_time(i, topic)]) == pixels_of(frame(i)).tobytes()
        assert meters[log_time(i, topic)] == [meter]


def test_jpeg_passes_through_as_encoded_image(camera_recording):
    blobs = by_time(camera_recording, "/cam/jpeg:EncodedImage:blob")
    for i in range(FRAMES):
        assert pixels(blobs[log_time(i, "/cam/jpeg")]) == frame(i).jpeg
    assert set(map(tuple, by_time(camera_recording, "/cam/jpeg:EncodedImage:media_type").values())) == {("image/jpeg",)}


def test_camera_info_becomes_pinhole(camera_recording):
    at = log_time(1, "/cam/info")
    (matrix,) = by_time(camera_recording, "/cam/info:Pinhole:image_from_camera")[at]
    np.testing.assert_allclose(np.reshape(matrix, (3, 3), order="F"), np.reshape(K, (3, 3)))  # Rerun is column-major
    assert by_time(camera_recording, "/cam/info:Pinhole:resolution")[at] == [[32.0, 24.0]]
    assert by_time(camera_recording, "/cam/info:Pinhole:parent_frame")[at] == [CAMERA_FRAME]
    assert by_time(camera_recording, "/cam/info:Pinhole:child_frame")[at] == [IMAGE_PLANE]


@pytest.mark.parametrize("topic", ["/cam/color", "/cam/depth", "/cam/depth_float", "/cam/jpeg"])
def test_images_lie_in_the_image_plane(camera_recording, topic):
    assert set(map(tuple, by_time(camera_recording, f"{topic}:CoordinateFrame:frame").values())) == {(IMAGE_PLANE,)}


@pytest.mark.parametrize(("topic", "column"), [
    ("/cam/color", "Image:buffer"), ("/cam/depth", "DepthImage:buffer"), ("/cam/depth_float", "DepthImage:buffer"),
    ("/cam/jpeg", "EncodedImage:blob"), ("/cam/info", "Pinhole:image_from_camera"), ("/tf", "Transform3D:translation"),
])  # fmt: skip
def test_timelines_are_header_stamp_and_log_time(camera_recording, topic, column):
    name = f"{topic}:{column}"
    assert sorted(by_time(camera_recording, name)) == [log_time(i, topic) for i in range(FRAMES)]
    assert stamps_of(camera_recording, name) == [stamp(i) for i in range(FRAMES)]


def test_tf_becomes_transforms_between_named_frames(camera_recording):
    parent, child, translation, quaternion = TF
    at = log_time(2, "/tf")
    assert by_time(camera_recording, "/tf:Transform3D:parent_frame")[at] == [parent]
    assert by_time(camera_recording, "/tf:Transform3D:child_frame")[at] == [child]
    np.testing.assert_allclose(by_time(camera_recording, "/tf:Transform3D:translation")[at], [translation])
    np.testing.assert_allclose(by_time(camera_recording, "/tf:Transform3D:quaternion")[at], [quaternion])


def test_tf_static_is_static_with_a_row_per_transform(camera_recording):
    """Static, one row per transform (the viewer resolves one per row); the reader shows the last row."""
    fields = ("parent_frame", "child_frame", "translation", "quaternion")
    columns = {field: f"/tf_static:Transform3D:{field}" for field in fields}
    assert all(is_static(camera_recording, name) for name in columns.values())
    row = {field: next(iter(by_time(camera_recording, name).values())) for field, name in columns.items()}
    last = STATIC_TFS[-1]
    assert (row["parent_frame"], row["child_frame"]) == ([last[0]], [last[1]])
    np.testing.assert_allclose(row["translation"], [last[2]])
    np.testing.assert_allclose(row["quaternion"], [last[3]])


def test_replay_as_a_real_process(tmp_path):
    bag = write_bag_as(tmp_path / "camera", camera_messages(), "sqlite3 folder")
    done = subprocess.run(
        [sys.executable, "-m", "bridge", "replay", str(bag), "-o", str(tmp_path / "out.rrd")],
        cwd=REPO, capture_output=True, text=True, timeout=120, env={**os.environ, "PYTHONPATH": str(REPO)},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert f"/cam/color: {FRAMES} received, {FRAMES} logged" in done.stderr
    table = read_recording(tmp_path / "out.rrd", index="message_log_time")
    assert entities(table) == set(TOPICS)
    assert pixels(by_time(table, "/cam/color:Image:buffer")[log_time(0, "/cam/color")]) == frame(0).color.tobytes()


# -- selecting topics and time ------------------------------------------------------------------------


@pytest.mark.parametrize(("args", "expected"), [
    (["--include", "/cam/depth.*"], {"/cam/depth", "/cam/depth_float"}),
    (["--include", "/cam/depth"], {"/cam/depth"}),  # matched in full, as rosbag2 does
    (["--exclude", "/cam/.*", "--exclude", "/tf_static"], {"/tf"}),
    (["--include", "/cam/.*", "--exclude", ".*depth.*"], {"/cam/color", "/cam/jpeg", "/cam/info"}),
])  # fmt: skip
def test_include_and_exclude_regexes(tmp_path, args, expected):
    bag = write_bag_as(tmp_path / "camera", camera_messages(1))
    assert replay(bag, "-o", tmp_path / "out.rrd", *args) == 0
    assert entities(read_recording(tmp_path / "out.rrd", index="message_log_time")) == expected


def colour_at_10_hz(frames: int) -> list[tuple[str, Any, int]]:
    """A colour stream recorded as stamped: log time = stamp, starting at the bag's start."""
    return [("/cam/color", image_msg(frame(0).color, "rgb8", stamp(i)), stamp(i)) for i in range(frames)]


def test_start_and_end_are_seconds_from_the_bag_start(tmp_path):
    bag = write_bag_as(tmp_path / "bag", colour_at_10_hz(10))
    assert replay(bag, "-o", tmp_path / "out.rrd", "--start", "0.25", "--end", "0.65") == 0
    table = read_recording(tmp_path / "out.rrd")
    assert sorted(by_time(table, "/cam/color:Image:buffer", "ros2_timestamp")) == [stamp(i) for i in (3, 4, 5, 6)]


def test_static_transforms_from_before_start_still_hold(tmp_path, capsys):
    """/tf_static is latched: a replay from --start keeps the transforms published before it (a late subscriber
    gets them too), and nothing else from before it."""
    static = [("/tf_static", tf_msg([tf], stamp(0)), stamp(0) + i) for i, tf in enumerate(STATIC_TFS)]
    later = [("/tf_static", tf_msg([("base_link", "late_frame", (0, 0, 1), (0, 0, 0, 1))], stamp(8)), stamp(8))]
    bag = write_bag_as(tmp_path / "bag", static + colour_at_10_hz(10) + later)
    assert replay(bag, "-o", tmp_path / "out.rrd", "--start", "0.25", "--end", "0.65") == 0
    table = read_recording(tmp_path / "out.rrd")
    assert sorted(by_time(table, "/cam/color:Image:buffer", "ros2_timestamp")) == [stamp(i) for i in (3, 4, 5, 6)]
    assert f"/tf_static: {len(STATIC_TFS)} received, {len(STATIC_TFS)} logged" in capsys.readouterr().err  # not late_frame
    assert next(iter(by_time(table, "/tf_static:Transform3D:child_frame").values())) == [STATIC_TFS[-1][1]]


# -- the config --------------------------------------------------------------------------------------


def test_config_maps_entity_paths_and_overrides_the_meter(tmp_path):
    bag = write_bag_as(tmp_path / "camera", camera_messages())
    config = write_config(tmp_path / "bridge.yaml", """
topics:
  /cam/depth: {entity_path: /camera/depth, meter: 500}
  /cam/depth_float: {meter: 0.5}
""")
    assert replay(bag, "-c", config, "-o", tmp_path / "out.rrd") == 0
    table = read_recording(tmp_path / "out.rrd", index="message_log_time")
    assert entities(table) == set(TOPICS) - {"/cam/depth"} | {"/camera/depth"}
    depth = by_time(table, "/camera/depth:DepthImage:buffer")
    assert pixels(depth[log_time(0, "/cam/depth")]) == frame(0).depth_mm.tobytes()
    assert set(map(tuple, by_time(table, "/camera/depth:DepthImage:meter").values())) == {(500.0,)}
    assert set(map(tuple, by_time(table, "/cam/depth_float:DepthImage:meter").values())) == {(0.5,)}
    assert set(map(tuple, by_time(table, "/camera/depth:CoordinateFrame:frame").values())) == {(IMAGE_PLANE,)}


def test_auto_off_bridges_only_listed_topics(tmp_path, caplog):
    bag = write_bag_as(tmp_path / "camera", camera_messages())
    config = write_config(tmp_path / "bridge.yaml", """
auto: false
topics:
  /cam/color: {}
  /cam/info: {entity_path: /cam/color}
  /cam/left/image_raw: {}
""")
    assert replay(bag, "-c", config, "-o", tmp_path / "out.rrd") == 0
    table = read_recording(tmp_path / "out.rrd", index="message_log_time")
    assert entities(table) == {"/cam/color"}
    assert len(by_time(table, "/cam/color:Image:buffer")) == FRAMES
    assert len(by_time(table, "/cam/color:Pinhole:image_from_camera")) == FRAMES
    assert "/cam/left/image_raw: configured but not in the bag" in caplog.text


def test_max_rate_skips_messages_that_come_too_soon(tmp_path, capsys):
    bag = write_bag_as(tmp_path / "bag", colour_at_10_hz(10))
    config = write_config(tmp_path / "bridge.yaml", "topics:\n  /cam/color: {max_rate: 4}\n")
    assert replay(bag, "-c", config, "-o", tmp_path / "out.rrd") == 0
    table = read_recording(tmp_path / "out.rrd")
    assert sorted(by_time(table, "/cam/color:Image:buffer", "ros2_timestamp")) == [stamp(i) for i in (0, 3, 6, 9)]
    assert "/cam/color: 10 received, 4 logged, 6 skipped" in capsys.readouterr().err


def test_a_kind_that_does_not_fit_the_message_type_is_warned_about(tmp_path, caplog):
    bag = write_bag_as(tmp_path / "camera", camera_messages())
    config = write_config(tmp_path / "bridge.yaml", "topics:\n  /cam/info: {kind: depth}\n")
    assert replay(bag, "-c", config, "-o", tmp_path / "out.rrd") == 0
    (warning,) = [r.getMessage() for r in caplog.records if "/cam/info" in r.getMessage()]
    assert warning.startswith("/cam/info: not bridged") and "sensor_msgs/msg/CameraInfo" in warning, warning
    assert "'depth'" in warning, warning
    assert entities(read_recording(tmp_path / "out.rrd", index="message_log_time")) == set(TOPICS) - {"/cam/info"}


# -- malformed messages -------------------------------------------------------------------------------

GARBAGE_CDR = b"\x00\x01\x00\x00" + b"\xff" * 12  # a header frame_id of 4 GiB


def malformed(i: int) -> list[tuple[str, str, bytes, int]]:
    """One message of every malformed kind, each on its own topic."""
    color = frame(i).color
    nan_k = [np.nan] * 9
    short = image_msg(color, "rgb8", stamp(i), height=48)  # claims twice the rows it carries
    messages = serialized([
        ("/bad/short", short, stamp(i) + 1),
        ("/bad/encoding", image_msg(color, "rgb9000", stamp(i)), stamp(i) + 2),
        ("/bad/camera_info", camera_info_msg(nan_k, 32, 24, stamp(i)), stamp(i) + 3),
    ])  # fmt: skip
    return messages + [("/bad/cdr", "sensor_msgs/msg/Image", GARBAGE_CDR, stamp(i) + 4)]


def well_formed(i: int) -> list[tuple[str, str, bytes, int]]:
    """A good message on the colour topic and on each topic that also carries malformed ones."""
    color = frame(i).color
    return serialized([
        ("/cam/color", image_msg(color, "rgb8", stamp(i)), stamp(i)),
        ("/bad/short", image_msg(color, "rgb8", stamp(i)), stamp(i) + 1),
        ("/bad/encoding", image_msg(color, "rgb8", stamp(i)), stamp(i) + 2),
        ("/bad/camera_info", camera_info_msg(K, 32, 24, stamp(i)), stamp(i) + 3),
        ("/bad/cdr", image_msg(color, "rgb8", stamp(i)), stamp(i) + 4),
    ])  # fmt: skip


BAD_TOPICS = {
    "/bad/short": "needs 4608",
    "/bad/encoding": "unknown encoding 'rgb9000'",
    "/bad/camera_info": "not a finite",
    "/bad/cdr": "cannot deserialize sensor_msgs/msg/Image",
}


@pytest.mark.parametrize("form", ["mcap folder", "sqlite3 folder"])
def test_malformed_messages_are_warned_about_once_counted_and_skipped(tmp_path, form, caplog, capsys):
    good, bad = (0, 3), (1, 2)  # frames 1 and 2 of every bad topic are malformed
    messages = [m for i in good for m in well_formed(i)] + [m for i in bad for m in malformed(i)]
    bag = write_cdr_bag(tmp_path / "bad", sorted(messages, key=lambda m: m[3]), form)
    assert replay(bag, "-o", tmp_path / "out.rrd") == 0

    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    for topic, problem in BAD_TOPICS.items():
        about_topic = [w for w in warnings if w.startswith(f"{topic}:")]
        assert len(about_topic) == 1 and problem in about_topic[0], (topic, warnings)
    summary = capsys.readouterr().err
    for topic in BAD_TOPICS:
        assert f"{topic}: 4 received, 2 logged, 2 failed" in summary
    assert "/cam/color: 2 received, 2 logged" in summary

    table = read_recording(tmp_path / "out.rrd")
    for topic in ("/cam/color", "/bad/short", "/bad/encoding", "/bad/cdr"):
        buffers = by_time(table, f"{topic}:Image:buffer", "ros2_timestamp")
        assert {t: pixels(b) for t, b in buffers.items()} == {stamp(i): frame(i).color.tobytes() for i in good}
    pinholes = by_time(table, "/bad/camera_info:Pinhole:image_from_camera", "ros2_timestamp")
    assert sorted(pinholes) == [stamp(i) for i in good]


# -- broken bags --------------------------------------------------------------------------------------


def flat_pixels(i: int, width: int) -> np.ndarray:
    """Frame i of a damaged-bag test: every byte is i, so that each frame can be found in the file and checked."""
    return np.full((width * 3 // 4, width, 3), i, np.uint8)


def write_flat_frames(path: Path, count: int, width: int, form: str) -> Path:
    messages = [("/cam/color", image_msg(flat_pixels(i, width), "rgb8", stamp(i)), stamp(i)) for i in range(count)]
    return write_bag_as(path, messages, form)


def converted_frames(rrd: Path, width: int) -> int:
    """How many frames the recording holds; they must be the first ones of the bag, intact."""
    buffers = by_time(read_recording(rrd), "/cam/color:Image:buffer", "ros2_timestamp")
    expected = {stamp(i): flat_pixels(i, width).tobytes() for i in range(len(buffers))}
    assert {t: pixels(b) for t, b in buffers.items()} == expected
    return len(buffers)


def errors(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]


@pytest.mark.parametrize("form", ["mcap folder", "mcap file"])
def test_a_truncated_mcap_is_converted_up_to_the_cut(tmp_path, caplog, form):
    frames = 12  # 147 kB each: more than one of rosbags' 1 MiB chunks
    bag = write_flat_frames(tmp_path / "bag", frames, 256, form)
    (mcap,) = [bag] if bag.is_file() else list(bag.glob("*.mcap"))
    data = mcap.read_bytes()
    mcap.write_bytes(data[: len(data) * 3 // 4])  # as a killed recorder leaves it: no summary, no footer

    assert replay(bag, "-o", tmp_path / "out.rrd") == 1
    (error,) = errors(caplog)
    assert error.startswith(f"{mcap}: truncated"), error
    assert 0 < converted_frames(tmp_path / "out.rrd", 256) < frames


@pytest.mark.parametrize("form", ["sqlite3 folder", "db3 file"])
def test_a_corrupt_db3_is_converted_up_to_the_damage(tmp_path, caplog, form):
    bag = write_flat_frames(tmp_path / "bag", 10, 64, form)  # 9 kB rows: sqlite3 spreads them over overflow pages
    (db3,) = [bag] if bag.is_file() else list(bag.glob("*.db3"))
    data = bytearray(db3.read_bytes())
    page = data.find(bytes([7]) * 3000) // 4096 * 4096  # an overflow page of frame 7; its first 4 bytes link the next
    data[page : page + 4] = b"\xff\xff\xff\x00"
    db3.write_bytes(bytes(data))  # the database still opens; reading fails at frame 7

    assert replay(bag, "-o", tmp_path / "out.rrd") == 1
    (error,) = errors(caplog)
    assert error.startswith(f"{bag}: cannot read further") and "malformed" in error, error
    assert converted_frames(tmp_path / "out.rrd", 64) == 7


def test_a_missing_bag_is_a_clear_error(tmp_path, caplog):
    assert replay(tmp_path / "nowhere", "-o", tmp_path / "out.rrd") == 1
    assert f"{tmp_path / 'nowhere'}: no such file or directory" in caplog.text


def test_a_folder_that_is_not_a_bag_is_a_clear_error(tmp_path, caplog):
    (tmp_path / "empty").mkdir()
    assert replay(tmp_path / "empty", "-o", tmp_path / "out.rrd") == 1
    assert f"{tmp_path / 'empty'}: not a rosbag2 bag" in caplog.text


def test_a_folder_without_metadata_is_read_from_its_storage_files(tmp_path, caplog):
    """A recorder killed before Iron leaves no metadata.yaml."""
    bag = write_bag_as(tmp_path / "camera", camera_messages(), "sqlite3 folder")
    (bag / "metadata.yaml").unlink()
    assert replay(bag, "-o", tmp_path / "out.rrd") == 0
    assert f"{bag}: no metadata.yaml" in caplog.text
    assert entities(read_recording(tmp_path / "out.rrd", index="message_log_time")) == set(TOPICS)


@pytest.mark.parametrize("layout", ["folder", "file"])
def test_a_bag_without_message_definitions_is_read_with_ros2_humbles_types(tmp_path, layout):
    """sqlite3 bags before Iron carry no message definitions: the types are ROS 2 Humble's."""
    bag = write_bag_as(tmp_path / "camera", camera_messages(), f"sqlite3 {layout}")
    (db3,) = [bag] if layout == "file" else bag.glob("*.db3")
    with apsw.Connection(str(db3)) as db:
        db.execute("DELETE FROM message_definitions")
    assert replay(bag, "-o", tmp_path / "out.rrd") == 0
    table = read_recording(tmp_path / "out.rrd", index="message_log_time")
    assert entities(table) == set(TOPICS)
    buffers = by_time(table, "/cam/color:Image:buffer")
    assert pixels(buffers[log_time(0, "/cam/color")]) == frame(0).color.tobytes()


def same(a: Any, b: Any) -> bool:
    """Messages equal field by field (of any typestore's classes), arrays element by element."""
    if hasattr(a, "__dataclass_fields__"):
        return type(a).__name__ == type(b).__name__ and all(same(getattr(a, f), getattr(b, f)) for f in a.__dataclass_fields__)
    if isinstance(a, np.ndarray):
        return np.array_equal(a, b)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return a == b


def test_bags_with_the_same_types_share_one_typestore_and_read_alike(tmp_path):
    """The deserializers rosbags generates for a bag's types are made once per process (storage.Typestores)."""
    from bridge.sources.bag import Bag

    written = camera_messages()
    colour_only = [m for m in written if m[0] == "/cam/color"]
    bags = {"first": (write_bag_as(tmp_path / "first", written), written),
            "second": (write_bag_as(tmp_path / "second", written, "sqlite3 folder"), written),
            "other": (write_bag_as(tmp_path / "other", colour_only), colour_only)}  # fmt: skip
    typestores = {}
    for name, (path, messages) in bags.items():
        with Bag(path) as bag:
            typestores[name] = bag.reader.typestore
            read = [(m.topic, bag.deserialize(m.raw, m.msgtype)) for m in bag.messages(set(bag.topics()))]
        expected = sorted(messages, key=lambda m: m[2])  # read in log-time order
        assert [topic for topic, _ in read] == [topic for topic, _, _ in expected]
        assert all(same(got, msg) for (_, got), (_, msg, _) in zip(read, expected))
    assert typestores["first"] is typestores["second"]
    assert typestores["other"] is not typestores["first"]  # other types: its own
