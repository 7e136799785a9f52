"""`info`, the replay's dry run: it must say what a replay of the same bag, config and options would do.

Each check runs `info` and `replay` on the same real bag (written by test/recordings.py, or a copy of it cut in
half) and compares: the configured topics missing from the bag, the damage found, the entities logged. Run in
this process through `main` (their output in capsys, their warnings in caplog).
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from cli_process import REPO
from recordings import TYPESTORE, T, camera_info_msg, image_msg, read_recording, write_bag
from rosbags.rosbag2 import StoragePlugin, Writer

from bridge import demo
from bridge.cli import main
from bridge.sources.bag import Bag, BagError

T0 = 1_700_000_000_000_000_000
PERIOD = 100_000_000  # 10 Hz
K = [40.0, 0, 20.0, 0, 40.0, 16.0, 0, 0, 1]


def camera(ns: str = "", frames: int = 3, depth: bool = True) -> list[tuple[str, object, int]]:
    """A robot's colour camera, its CameraInfo and (with `depth`) a depth camera, under namespace `ns`."""
    messages = []
    for i in range(frames):
        at = T0 + i * PERIOD
        messages += [(f"{ns}/cam/color", image_msg(np.full((32, 40, 3), i, np.uint8), "rgb8", at), at),
                     (f"{ns}/cam/camera_info", camera_info_msg(K, 40, 32, at), at + 1)]  # fmt: skip
        if depth:
            messages.append((f"{ns}/cam/depth", image_msg(np.full((32, 40), 1000, np.uint16), "16UC1", at), at + 2))
    return messages


def info(capsys, *args: str | Path) -> tuple[int, str]:
    """`info ARGS`: its exit status and its output (stdout)."""
    status = main(["info", *map(str, args)])
    return status, capsys.readouterr().out


def replay(tmp_path: Path, *args: str | Path) -> int:
    return main(["replay", "--no-progress", "-o", str(tmp_path / "replayed.rrd"), *map(str, args)])


def logged(caplog, level: int) -> list[str]:
    """The messages logged at `level` since the last caplog.clear()."""
    return [record.getMessage() for record in caplog.records if record.levelno == level]


def becomes(output: str) -> dict[str, list[str]]:
    """Each topic's lines of `becomes` in info's table: its own entity's first, then those its options add."""
    rows: dict[str, list[str]] = {}
    topic = None
    for line in output.splitlines():
        if not line.startswith("  ") or line.startswith("  damaged: ") or line.split()[0] == "topic":
            continue
        cells = re.split(r"\s{2,}", line.strip())
        if len(cells) == 4:
            topic = cells[0]
            rows[topic] = [cells[3]]
        else:
            assert topic is not None, line
            rows[topic].append(cells[-1])
    return rows


# -- 1. configured topics that are not in the bag -------------------------------------------------------


def test_configured_topics_missing_from_a_bag_are_named_per_bag_as_replay_names_them(tmp_path, capsys, caplog):
    both = write_bag(tmp_path / "both", camera())
    colour_only = write_bag(tmp_path / "colour_only", camera(depth=False))
    config = tmp_path / "camera.yaml"
    config.write_text("auto: false\ntopics:\n  /cam/color: {}\n  /cam/depth: {}\n  /cam/ir: {}\n")
    assert info(capsys, both, colour_only, "-c", config)[0] == 0
    # Per bag: the first lacks /cam/ir, the second /cam/depth too.
    said = logged(caplog, logging.WARNING)
    assert said == [f"{topic}: configured but not in the bag" for topic in ("/cam/ir", "/cam/depth", "/cam/ir")]
    caplog.clear()
    assert replay(tmp_path, colour_only, "-c", config) == 0
    assert logged(caplog, logging.WARNING) == said[1:]


def test_in_a_fleet_each_robots_missing_topics_are_named(tmp_path, capsys, caplog):
    bag = write_bag(tmp_path / "fleet", camera("/robot1") + camera("/robot2", depth=False))
    config = tmp_path / "camera.yaml"
    config.write_text("auto: false\ntopics:\n  /cam/color: {}\n  /cam/depth: {}\n")
    fleet = ("--namespace", "/robot1", "--namespace", "/robot2", "--namespace", "/robot3")
    assert info(capsys, bag, "-c", config, *fleet)[0] == 0
    said = logged(caplog, logging.WARNING)
    assert said == [f"{topic}: configured but not in the bag"
                    for topic in ("/robot2/cam/depth", "/robot3/cam/color", "/robot3/cam/depth")]  # fmt: skip
    caplog.clear()
    assert replay(tmp_path, bag, "-c", config, *fleet) == 0
    assert logged(caplog, logging.WARNING) == said


# -- 2. damaged bags ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def intact(tmp_path_factory) -> dict[str, Path]:
    """A camera's bag in each storage, of random frames (so that a cut loses some): 5 MB, MCAP in several chunks."""
    rng = np.random.default_rng(0)
    messages = []
    for i in range(300):
        at = T0 + i * PERIOD
        messages += [("/cam/color", image_msg(rng.integers(0, 256, (64, 80, 3), np.uint8), "rgb8", at), at),
                     ("/cam/camera_info", camera_info_msg(K, 80, 64, at), at + 1)]  # fmt: skip
    root = tmp_path_factory.mktemp("intact")
    return {storage: write_bag(root / storage, messages, storage) for storage in ("mcap", "sqlite3")}


def storage_file(folder: Path) -> Path:
    (path,) = [p for p in folder.iterdir() if p.suffix in (".mcap", ".db3")]
    return path


def cut_in_half(path: Path) -> None:
    with path.open("r+b") as file:
        file.truncate(path.stat().st_size // 2)


def damaged_copy(intact: dict[str, Path], form: str, to: Path) -> Path:
    """A copy of an intact bag cut in half: a loose .mcap or .db3 file, a bag folder whose .mcap is, or a killed
    recorder's folder (no metadata.yaml) of two .mcap files that both are."""
    if form == "folder":
        folder = shutil.copytree(intact["mcap"], to / "folder")
        cut_in_half(storage_file(folder))
        return folder
    if form == "split":
        (to / "split").mkdir()
        for n in range(2):
            shutil.copyfile(storage_file(intact["mcap"]), to / "split" / f"split_{n}.mcap")
            cut_in_half(to / "split" / f"split_{n}.mcap")
        return to / "split"
    path = to / ("half.mcap" if form == "mcap" else "half.db3")
    shutil.copyfile(storage_file(intact[form]), path)
    cut_in_half(path)
    return path


def readable(path: Path) -> int:
    """How many messages a replay reads of the bag (to the damage)."""
    count = 0
    try:
        with Bag(path) as bag:
            for _ in bag.messages(set(bag.topics())):
                count += 1
    except BagError:
        pass
    return count


@pytest.mark.parametrize("form", ["mcap", "sqlite3", "folder", "split"])
def test_a_bag_cut_in_half_is_reported_damaged_as_replay_reports_it(intact, tmp_path, capsys, caplog, form):
    bag = damaged_copy(intact, form, tmp_path)
    files = sorted(bag.glob("*.mcap")) if bag.is_dir() else [bag]
    status, output = info(capsys, bag)
    caplog.clear()
    replay(tmp_path, bag)
    report = logged(caplog, logging.ERROR)[0]  # the replay's error for the bag (then perhaps "nothing was converted")
    assert status == 1
    header, *damaged = output.splitlines()[: 1 + len(files)]
    assert "; ".join(line.removeprefix("  damaged: ") for line in damaged) == report
    assert all(line.startswith(f"  damaged: {file}: ") for line, file in zip(damaged, files))  # each names its file
    # What can be read, not what metadata.yaml says was recorded (the folder's says 600).
    assert header.startswith(f"{bag}: 2 topics, {readable(bag)} messages")


def test_healthy_bags_are_not_damaged_and_a_damaged_one_fails_the_run(intact, tmp_path, capsys):
    for bag in intact.values():
        status, output = info(capsys, bag)
        assert status == 0 and "damaged" not in output
        assert output.startswith(f"{bag}: 2 topics, 600 messages, 29.9 s; 2 bridged\n")
    half = damaged_copy(intact, "mcap", tmp_path)
    status, output = info(capsys, intact["mcap"], half, intact["sqlite3"])
    assert status == 1  # as the replay of the three would end
    assert [line.split(":")[0] for line in output.splitlines() if not line.startswith(" ")] == [
        str(intact["mcap"]), str(half), str(intact["sqlite3"])]  # fmt: skip


# -- 3. why a topic is not bridged --------------------------------------------------------------------


def test_every_topic_not_bridged_says_why(tmp_path, capsys):
    messages = camera() + [("/chatter", T["std_msgs/msg/String"](data="hi"), T0), ("/other/image",
                           image_msg(np.zeros((4, 4, 3), np.uint8), "rgb8", T0), T0)]  # fmt: skip
    bag = write_bag(tmp_path / "bag", messages)
    listed = tmp_path / "listed.yaml"
    listed.write_text("auto: false\ntopics:\n  /cam/color: {}\n  /cam/camera_info: {kind: image}\n")
    _, auto = info(capsys, bag)
    _, excluded = info(capsys, bag, "--exclude", "/other/.*")
    _, only_listed = info(capsys, bag, "-c", listed)
    assert becomes(auto)["/chatter"] == ["- not bridged (not a camera or TF type)"]
    assert becomes(excluded)["/other/image"] == ["- not bridged (include/exclude)"]
    assert becomes(only_listed)["/other/image"] == ["- not bridged (not in the config, and auto is off)"]
    assert becomes(only_listed)["/cam/camera_info"] == [
        "- not bridged: its type sensor_msgs/msg/CameraInfo does not fit its configured kind 'image', which takes "
        "sensor_msgs/msg/Image"]  # fmt: skip
    for output in (auto, excluded, only_listed):
        for lines in becomes(output).values():
            assert not any(line.startswith("- ") and not re.match(r"- not bridged( \(.+\)|: .+)$", line) for line in lines)


# -- 4. what a topic's options add ----------------------------------------------------------------------

EXTRAS = """\
video: h264
topics:
  /camera/depth/image_rect_raw:
    register: {to: /camera/color/image_raw, entity_path: /aligned}
    point_cloud: {color_from: /camera/color/image_raw, max_points: 10000, max_rate: null}
  /camera/wide/image_raw:
    rectify: {keep_raw: false}
  /camera/color/image_raw/compressed:
    rectify: true
"""


@pytest.mark.parametrize("ns", ["", "/robot1"], ids=["one robot", "a fleet"])
def test_the_entities_a_topics_options_add_are_listed_as_replay_logs_them(tmp_path, capsys, ns):
    bag = write_bag(tmp_path / "bag", [(ns + topic, msg, at) for topic, msg, at in demo.demo_messages(4, 64, 48)])
    config = tmp_path / "extras.yaml"
    config.write_text(EXTRAS)
    fleet = ("--namespace", ns) if ns else ()
    status, output = info(capsys, bag, "-c", config, *fleet)
    assert status == 0
    rows = becomes(output)
    colour, depth, wide = (ns + topic for topic in (demo.COLOR_TOPIC, demo.DEPTH_TOPIC, demo.WIDE_TOPIC))
    assert rows[colour] == [f"{colour}: VideoStream (h264, encoded from rgb8, 64x48)"]
    assert rows[depth] == [
        f"{depth}: EncodedDepthImage (png or rvl, the smaller per frame; 16UC1, 64x48)",
        f"{ns}/aligned: EncodedDepthImage, registered into the camera of {colour}",
        f"{depth}/points: Points3D coloured from {colour} (up to 10000 points)",
    ]
    assert rows[wide] == [f"{wide}: VideoStream (h264, encoded from rgb8, 32x24)",
                          f"{wide}/rect: VideoStream, rectified, instead of the raw ones (keep_raw: false)"]  # fmt: skip
    assert rows[colour + "/compressed"][1] == f"{colour}/compressed/rect: VideoStream, rectified"
    # Every entity info names, with its archetype, is in the replay's recording, and nothing else is.
    assert replay(tmp_path, bag, "-c", config, *fleet) == 0
    capsys.readouterr()
    recorded: dict[str, set[str]] = {}
    for name in read_recording(tmp_path / "replayed.rrd").column_names:
        if name.count(":") == 2:
            entity, archetype, _ = name.split(":")
            recorded.setdefault(entity, set()).add(archetype)
    listed = [re.match(r"(/\S*): (\w+)", line).groups() for lines in rows.values() for line in lines]
    assert {entity for entity, _ in listed} == set(recorded)
    for entity, archetype in listed:
        assert archetype in recorded[entity], (entity, archetype, recorded[entity])


# -- 5. cheap on a healthy bag --------------------------------------------------------------------------


def test_info_deserializes_only_the_first_messages_of_a_bag(tmp_path, capsys, caplog):
    """A message of garbage CDR late in the bag: the replay meets it and warns, info never reads it."""
    bag = tmp_path / "bag"
    frame = TYPESTORE.serialize_cdr(image_msg(np.zeros((32, 40, 3), np.uint8), "rgb8", T0), "sensor_msgs/msg/Image")
    with Writer(bag, version=8, storage_plugin=StoragePlugin.MCAP) as writer:
        connection = writer.add_connection("/cam/color", "sensor_msgs/msg/Image", typestore=TYPESTORE)
        for i in range(300):  # 30 s: beyond what info looks at for an image's encoding
            writer.write(connection, T0 + i * PERIOD, frame)
        writer.write(connection, T0 + 300 * PERIOD, b"\x00\x01\x00\x00" + b"\xff" * 64)
    status, output = info(capsys, bag)
    assert status == 0 and becomes(output)["/cam/color"] == ["/cam/color: Image (rgb8, 40x32)"]
    assert output.startswith(f"{bag}: 1 topics, 301 messages, 30.0 s; 1 bridged")
    assert caplog.records == []
    assert replay(tmp_path, bag) == 0
    (warning,) = logged(caplog, logging.WARNING)
    assert warning.startswith("/cam/color: cannot deserialize sensor_msgs/msg/Image")


def test_a_reader_that_stops_reading_ends_info_quietly(intact):
    """`info BAG | head -1`: head may leave before info has printed all; info then stops, without a traceback."""
    process = subprocess.Popen([sys.executable, "-m", "bridge", "info", str(intact["mcap"]), str(intact["sqlite3"])],
                               cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)}, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)  # fmt: skip
    process.stdout.close()  # before anything is printed
    _, stderr = process.communicate(timeout=120)
    assert (process.returncode, stderr) == (0, "")
