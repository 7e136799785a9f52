"""Fleets: several robots with the same topics and frame names, each in its ROS namespace, in one recording.

The naming rules (conversion/namespaces.py and the routes), then a real bag of two robots replayed with two
namespaces and read back: each robot's images at its own entity paths, its frames prefixed, its 3D placed by its
own TF. The same over live DDS is in test_live_dds.py.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow.compute as pc
import pytest
import rerun as rr
from cli_process import running_bridge
from ports import free_port, wait_for_port
from recordings import camera_info_msg, column, image_msg, last_chunk_rows, read_recording, tf_msg
from test_replay import by_time, entities, pixels, write_bag_as, write_config

from bridge.cli import main
from bridge.config import CAMERA_INFO_TYPE, IMAGE_TYPE, TF_TYPE, ConfigError, parse_config
from bridge.conversion.namespaces import entity_path, namespace, prefixed_frame, split_topic
from bridge.core import TopicStats, plan_route
from bridge.core.overrides import NODE_PARAMETERS, node_config
from bridge.core.subscriptions import silent_topic_warnings, typed_topics
from bridge.sinks.blueprint import configured_blueprint, default_blueprint

ROBOTS = ["/robot1", "/robot2"]


# -- the naming rules -----------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "expected"), [
    ("/robot1", "/robot1"), ("robot1", "/robot1"), ("/robot1/", "/robot1"), ("/fleet/robot_2", "/fleet/robot_2"),
])  # fmt: skip
def test_namespaces_are_absolute_ros_names(text, expected):
    assert namespace(text) == expected


@pytest.mark.parametrize("text", ["", "/", "//robot1", "/robot 1", "/2robot", "/robot-1", "/a//b"])
def test_what_is_not_a_namespace_is_refused(text):
    with pytest.raises(ValueError, match="not a ROS namespace"):
        namespace(text)


def test_a_topic_belongs_to_the_longest_namespace_that_holds_it():
    assert split_topic("/robot1/camera/image_raw", ["/robot1"]).name == "/camera/image_raw"
    placed = split_topic("/robot1/arm/camera/image_raw", ["/robot1", "/robot1/arm"])
    assert (placed.namespace, placed.name) == ("/robot1/arm", "/camera/image_raw")
    assert split_topic("/robot10/camera/image_raw", ["/robot1"]) is None  # a prefix of the name is not a namespace
    assert split_topic("/robot1", ["/robot1"]) is None


def test_entity_paths_go_under_the_namespace_and_frames_get_its_prefix():
    assert entity_path("/robot1", "/camera/color") == "/robot1/camera/color"
    assert entity_path("", "/camera/color") == "/camera/color"
    assert prefixed_frame("robot1/", "camera_link") == "robot1/camera_link"
    assert prefixed_frame("robot1/", "/camera_link") == "robot1/camera_link"  # a ROS 1 style leading slash
    assert prefixed_frame("robot1/", "") == ""  # no frame stays no frame: warned about, not placed
    assert prefixed_frame("", "camera_link") == "camera_link"
    assert prefixed_frame("robot1/", "map", shared={"map"}) == "map"  # the fleet's common frame
    assert prefixed_frame("robot1/", "odom", shared={"map"}) == "robot1/odom"


def test_config_namespaces_are_checked_and_named():
    assert parse_config({"namespaces": ["robot1", "/robot2/"]}).namespaces == ("/robot1", "/robot2")
    assert parse_config({"namespaces": "/robot1"}).namespaces == ("/robot1",)
    assert parse_config({}).namespaces == () and parse_config({}).prefix_frames
    for bad, problem in [(["/robot 1"], "namespaces: '/robot 1': not a ROS namespace"),
                         (["/a", "a"], "namespaces: /a is given twice"),
                         ([1], "namespaces: expected ROS namespaces"),
                         ({"a": 1}, "namespaces: expected a list")]:  # fmt: skip
        with pytest.raises(ConfigError, match=problem):
            parse_config({"namespaces": bad})
    with pytest.raises(ConfigError, match="prefix_frames: expected a boolean"):
        parse_config({"prefix_frames": "no"})
    assert parse_config({"shared_frames": ["map", "/world"]}).shared_frames == {"map", "world"}
    with pytest.raises(ConfigError, match="shared_frames: expected a list of TF frame names"):
        parse_config({"shared_frames": ["map", ""]})


def test_a_fleet_registers_depth_and_makes_clouds_per_robot(tmp_path):
    """The config names one robot's topics; each robot's depth goes into its own colour camera (test_rgbd.py
    replays and converts such fleets and reads them back)."""
    config = write_config(tmp_path / "rgbd.yaml", "namespaces: [/robot1, /robot2]\nauto: false\ntopics:\n"
                          "  /camera/color/image_raw: {kind: image}\n"
                          "  /camera/depth/image_rect_raw: {kind: depth, register: /camera/color/image_raw, "
                          "point_cloud: /camera/color/image_raw}\n")  # fmt: skip
    assert main(["check-config", str(config)]) == 0
    fleet = parse_config({"namespaces": ROBOTS, "topics": {"/camera/depth/image_rect_raw": {"register": "/camera/color/image_raw"}}})
    assert fleet.namespaces == tuple(ROBOTS) and fleet.topics["/camera/depth/image_rect_raw"].register.to == "/camera/color/image_raw"


def test_routes_in_a_fleet():
    config = parse_config({"namespaces": ROBOTS, "exclude": ["/camera/ir/.*"], "topics": {
        "/camera/color/image_raw": {"entity_path": "/color", "frame_id": "camera_color_optical_frame"},
    }})  # fmt: skip
    color = plan_route(config, "/robot2/camera/color/image_raw", IMAGE_TYPE)
    assert (color.name, color.entity_path, color.options.frame_id) == ("/camera/color/image_raw", "/robot2/color", "camera_color_optical_frame")
    assert color.frame(color.options.frame_id) == "robot2/camera_color_optical_frame"  # the override is the robot's frame
    static = plan_route(config, "/robot1/tf_static", TF_TYPE)
    assert static.static_tf and static.entity_path == "/robot1/tf_static" and static.frame_prefix == "robot1/"
    assert plan_route(config, "/robot1/camera/ir/image_raw", IMAGE_TYPE) is None  # exclude: the name in the robot
    assert plan_route(config, "/tf", TF_TYPE) is None  # outside every robot
    assert plan_route(config, "/robot3/camera/color/image_raw", IMAGE_TYPE) is None


def test_frames_kept_as_they_are_bridge_the_global_tf_too():
    config = parse_config({"namespaces": ROBOTS, "prefix_frames": False})
    image = plan_route(config, "/robot1/camera/color/image_raw", IMAGE_TYPE)
    assert image.entity_path == "/robot1/camera/color/image_raw" and image.frame("robot1/camera_link") == "robot1/camera_link"
    tf = plan_route(config, "/tf", TF_TYPE)
    assert tf.entity_path == "/tf" and tf.frame("robot1/base_link") == "robot1/base_link"
    assert plan_route(config, "/camera/color/image_raw", IMAGE_TYPE) is None  # images are always a robot's


def test_listed_topics_are_subscribed_and_reported_per_robot_with_their_full_names():
    config = parse_config({"namespaces": ROBOTS, "auto": False, "topics": {
        "/camera/color/image_raw": {"kind": "image"}, "/camera/color/camera_info": {"kind": "camera_info"},
        "/tf": {"kind": "tf"},
    }})  # fmt: skip
    assert sorted(typed_topics(config)) == sorted(
        (ns + name, msgtype) for ns in ROBOTS for name, msgtype in
        [("/camera/color/image_raw", IMAGE_TYPE), ("/camera/color/camera_info", CAMERA_INFO_TYPE), ("/tf", TF_TYPE)]
    )  # fmt: skip
    stats = {topic: TopicStats(received=1) for topic in ("/robot1/camera/color/image_raw", "/robot1/camera/color/camera_info", "/robot1/tf")}
    graph = {"/robot2/camera/color/image_raw": {IMAGE_TYPE}}
    warnings = silent_topic_warnings(config, stats, graph)
    assert [w.split(":")[0] for w in warnings] == ["/robot2/camera/color/image_raw", "/robot2/camera/color/camera_info", "/robot2/tf"]


def test_views_of_two_robots_are_named_by_robot():
    paths = [ns + "/camera/color/image_raw" for ns in ROBOTS] + ["/robot1/camera/depth/image_rect_raw"]
    _, grid = default_blueprint(paths, ROBOTS).root_container.contents
    assert [(view.name, view.origin) for view in grid.contents] == [
        ("robot1: color/image_raw", "/robot1/camera/color/image_raw"),
        ("robot1: depth/image_rect_raw", "/robot1/camera/depth/image_rect_raw"),
        ("robot2: color/image_raw", "/robot2/camera/color/image_raw"),
    ]
    live = parse_config({"namespaces": ROBOTS, "auto": False, "topics": {"/camera/color/image_raw": {"kind": "image"}}})
    _, grid = configured_blueprint(live).root_container.contents
    assert [view.name for view in grid.contents] == ["robot1: color/image_raw", "robot2: color/image_raw"]


def test_node_parameters_name_the_fleet():
    parameters = {**NODE_PARAMETERS, "output": "out.rrd"}
    assert node_config({**parameters, "namespaces": "/robot1, robot2"}).namespaces == tuple(ROBOTS)
    assert not node_config({**parameters, "keep_frame_names": True}).prefix_frames
    assert node_config({**parameters, "shared_frames": "map,world"}).shared_frames == {"map", "world"}
    with pytest.raises(ConfigError, match="not a ROS namespace"):
        node_config({**parameters, "namespaces": "/robot-1"})


def test_info_says_which_topics_are_of_no_robot(tmp_path, capsys):
    bag = write_bag_as(tmp_path / "fleet", robot_messages("/robot1") + robot_messages("/robot2"))
    assert main(["info", str(bag), "--namespace", "/robot2", "--exclude", "/tf"]) == 0
    rows = {line.split()[0]: line.split("  ")[-1].strip() for line in capsys.readouterr().out.splitlines()[2:]}
    assert rows["/robot2/camera/color/image_raw"] == "/robot2/camera/color/image_raw: Image (rgb8, 32x24)"
    assert rows["/robot2/tf"] == "- not bridged (include/exclude)"  # the name within the robot
    assert rows["/robot1/tf"] == "- not bridged (in none of the namespaces)"


def test_a_bag_of_no_given_robot_says_which_namespaces_were_looked_in(tmp_path, caplog):
    bag = write_bag_as(tmp_path / "fleet", robot_messages("/robot1"))
    assert main(["replay", "--no-progress", str(bag), "--namespace", "/robot9", "-o", str(tmp_path / "x.rrd")]) == 1
    assert "no topic to bridge within namespaces /robot9 (topics: /robot1/camera/color/camera_info" in caplog.text


def test_a_bad_namespace_on_the_command_line_is_a_usage_error(tmp_path, caplog):
    assert main(["live", "--namespace", "/robot 1", "-o", str(tmp_path / "x.rrd"), "--duration", "0"]) == 2
    assert "'/robot 1': not a ROS namespace" in caplog.text


# -- two robots in one bag, replayed into one recording -------------------------------------------

T0 = 1_700_000_000_000_000_000
PERIOD = 100_000_000
FRAMES = 3
K = [20.0, 0, 16.0, 0, 21.0, 12.0, 0, 0, 1]
OPTICAL = "camera_optical_frame"


def robot_x(ns: str) -> float:
    """Where each robot is in the world, and so where its camera is: the robots differ only by their TF."""
    return {"/robot1": 1.0, "/robot2": -4.0}[ns]


def odom_in_map(ns: str) -> tuple[float, float, float]:
    """Where each robot's localisation puts its odom frame in the map the robots share."""
    return {"/robot1": (0.0, 0.0, 0.0), "/robot2": (0.0, 3.0, 0.0)}[ns]


def colour(ns: str, i: int) -> np.ndarray:
    return np.random.default_rng([ROBOTS.index(ns), i]).integers(0, 256, (24, 32, 3), np.uint8)


def robot_messages(ns: str) -> list:
    """One robot's driver and TF, with the frame names and topics (under its namespace) of every robot."""
    offset = ROBOTS.index(ns) * 1000  # log times of their own, so that rows can be found by it
    static = [("base_link", "camera_link", (0.1, 0.0, 0.5), (0.0, 0.0, 0.0, 1.0)),
              ("camera_link", OPTICAL, (0.0, 0.0, 0.0), (-0.5, 0.5, -0.5, 0.5)),
              ("map", "odom", odom_in_map(ns), (0.0, 0.0, 0.0, 1.0))]  # fmt: skip
    messages = [(f"{ns}/tf_static", tf_msg(static, T0), T0 + offset)]
    for i in range(FRAMES):
        stamp = T0 + i * PERIOD
        messages += [
            (f"{ns}/camera/color/image_raw", image_msg(colour(ns, i), "rgb8", stamp, OPTICAL), stamp + 10 + offset),
            (f"{ns}/camera/color/camera_info", camera_info_msg(K, 32, 24, stamp, OPTICAL), stamp + 20 + offset),
            (f"{ns}/tf", tf_msg([("odom", "base_link", (robot_x(ns), 0.0, 0.0), (0.0, 0.0, 0.0, 1.0))], stamp), stamp + 30 + offset),
        ]  # fmt: skip
    return messages


@pytest.fixture(scope="module")
def fleet_recording(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("fleet")
    messages = sorted(robot_messages("/robot1") + robot_messages("/robot2"), key=lambda m: m[2])
    bag = write_bag_as(tmp / "fleet", messages + [("/camera/color/image_raw", image_msg(colour("/robot1", 0), "rgb8", T0), T0 + 5)])
    config = write_config(tmp / "robot.yaml", "topics:\n  /camera/color/camera_info: {intrinsics: K}\n"
                                              "  /camera/color/image_raw: {rectify: {entity_path: /camera/color/image_rect}}\n")
    assert main(["replay", "--no-progress", str(bag), "-c", str(config), "-o", str(tmp / "fleet.rrd"),
                 "--namespace", "/robot1", "--namespace", "robot2", "--shared-frame", "map"]) == 0  # fmt: skip
    return tmp / "fleet.rrd", read_recording(tmp / "fleet.rrd", index="message_log_time")


def test_each_robot_has_its_own_entities(fleet_recording):
    _, table = fleet_recording
    names = ["/camera/color/image_raw", "/camera/color/image_rect", "/camera/color/camera_info", "/tf", "/tf_static"]
    assert entities(table) == {ns + name for ns in ROBOTS for name in names}  # the un-namespaced camera is no robot's


@pytest.mark.parametrize("ns", ROBOTS)
def test_each_robots_images_are_complete_in_its_own_image_plane(fleet_recording, ns):
    _, table = fleet_recording
    offset = ROBOTS.index(ns) * 1000
    buffers = by_time(table, f"{ns}/camera/color/image_raw:Image:buffer")
    assert sorted(buffers) == [T0 + i * PERIOD + 10 + offset for i in range(FRAMES)]
    for i in range(FRAMES):
        assert pixels(buffers[T0 + i * PERIOD + 10 + offset]) == colour(ns, i).tobytes()
    plane = f"{ns.lstrip('/')}/{OPTICAL}_image_plane"
    assert set(map(tuple, by_time(table, f"{ns}/camera/color/image_raw:CoordinateFrame:frame").values())) == {(plane,)}
    pinhole = f"{ns}/camera/color/camera_info:Pinhole"
    assert set(map(tuple, by_time(table, f"{pinhole}:parent_frame").values())) == {(f"{ns.lstrip('/')}/{OPTICAL}",)}
    assert set(map(tuple, by_time(table, f"{pinhole}:child_frame").values())) == {(plane,)}
    # Rectified through its own robot's calibration, into its own robot's rectified image plane.
    rect_plane = f"{ns.lstrip('/')}/{OPTICAL}_rect_image_plane"
    assert set(map(tuple, by_time(table, f"{ns}/camera/color/image_rect:CoordinateFrame:frame").values())) == {(rect_plane,)}
    assert len(by_time(table, f"{ns}/camera/color/image_rect:Image:buffer")) == FRAMES - 1  # from the first CameraInfo on


@pytest.mark.parametrize("ns", ROBOTS)
def test_each_robot_is_placed_by_its_own_tf(fleet_recording, ns):
    path, table = fleet_recording
    robot = ns.lstrip("/")
    tf = f"{ns}/tf:Transform3D"
    assert set(map(tuple, by_time(table, f"{tf}:parent_frame").values())) == {(f"{robot}/odom",)}
    assert set(map(tuple, by_time(table, f"{tf}:child_frame").values())) == {(f"{robot}/base_link",)}
    assert all(np.allclose(t, [(robot_x(ns), 0.0, 0.0)]) for t in by_time(table, f"{tf}:translation").values())
    # Static: one row per transform, all of this robot's (the reader shows the last row): its odom in the shared map.
    assert last_chunk_rows(path, f"{ns}/tf_static") == 3
    assert column(table, f"{ns}/tf_static:Transform3D:child_frame")[-1] == [f"{robot}/odom"]
    assert column(table, f"{ns}/tf_static:Transform3D:parent_frame")[-1] == ["map"]
    assert np.allclose(column(table, f"{ns}/tf_static:Transform3D:translation")[-1], [odom_in_map(ns)])


# -- an archive laid out by robot, each bag converted under its robot's namespace --------------------

ARCHIVE_BAGS = {"robot1/2024-05-01/run_0": "/robot1", "robot1/2024-05-02/run_0": "/robot1", "robot2/2024-05-01/run_0": "/robot2"}


def recorded_on(ns: str) -> list:
    """What a robot records itself: its topics without its namespace, its frames as every robot names them."""
    return [(topic[len(ns):], msg, log_time) for topic, msg, log_time in robot_messages(ns)]


def segment_properties(paths: list[Path]) -> dict[str, dict]:
    """Each recording's `ros2_bag` properties (its segment in a catalog), by the bag's name."""
    with rr.server.Server(datasets={"d": [str(p) for p in paths]}) as server:
        client = server.client()  # kept while the dataset is queried
        dataset = client.get_dataset("d")
        table = dataset.segment_table().to_arrow_table()
    # The bag's properties only: pyarrow cannot always turn the table's nanosecond rerun_last_updated_at into Python.
    rows = table.select([name for name in table.column_names if name.startswith("property:ros2_bag:")]).to_pylist()
    return {row["property:ros2_bag:name"][0]: {k.split(":")[-1]: v[0] for k, v in row.items()} for row in rows}


@pytest.fixture(scope="module")
def robot_archive(tmp_path_factory):
    root = tmp_path_factory.mktemp("robots")
    for name, ns in ARCHIVE_BAGS.items():
        (root / "archive" / name).parent.mkdir(parents=True, exist_ok=True)
        write_bag_as(root / "archive" / name, recorded_on(ns))
    assert main(["convert", "--no-progress", "--jobs", "2", str(root / "archive"), "-o", str(root / "out"),
                 "--namespace-from-path", "0", "--shared-frame", "map"]) == 0  # fmt: skip
    return root


@pytest.mark.parametrize("name", ARCHIVE_BAGS)
def test_each_bag_of_an_archive_is_converted_under_its_robots_namespace(robot_archive, name):
    ns = ARCHIVE_BAGS[name]
    robot = ns.lstrip("/")
    table = read_recording(robot_archive / "out" / f"{name}.rrd", index="message_log_time")
    assert entities(table) == {ns + topic for topic in ["/camera/color/image_raw", "/camera/color/camera_info", "/tf", "/tf_static"]}
    buffers = by_time(table, f"{ns}/camera/color/image_raw:Image:buffer")
    assert [pixels(buffers[t]) for t in sorted(buffers)] == [colour(ns, i).tobytes() for i in range(FRAMES)]
    assert set(map(tuple, by_time(table, f"{ns}/camera/color/image_raw:CoordinateFrame:frame").values())) == {(f"{robot}/{OPTICAL}_image_plane",)}
    assert set(map(tuple, by_time(table, f"{ns}/camera/color/camera_info:Pinhole:parent_frame").values())) == {(f"{robot}/{OPTICAL}",)}
    assert set(map(tuple, by_time(table, f"{ns}/tf:Transform3D:parent_frame").values())) == {(f"{robot}/odom",)}
    assert set(map(tuple, by_time(table, f"{ns}/tf:Transform3D:child_frame").values())) == {(f"{robot}/base_link",)}
    assert column(table, f"{ns}/tf_static:Transform3D:parent_frame")[-1] == ["map"]  # shared: its odom hangs from the one map


def test_each_recording_names_its_robot_in_its_properties(robot_archive):
    properties = segment_properties([robot_archive / "out" / f"{name}.rrd" for name in ARCHIVE_BAGS])
    assert {name: p["namespace"] for name, p in properties.items()} == ARCHIVE_BAGS


def test_the_namespace_from_the_path_is_part_of_what_a_recording_is_up_to_date_with(robot_archive, capsys):
    archive, out = str(robot_archive / "archive"), str(robot_archive / "out")
    capsys.readouterr()
    assert main(["convert", "--no-progress", "--jobs", "1", archive, "-o", out, "--namespace-from-path", "0", "--shared-frame", "map"]) == 0
    assert "3 bags: 3 up to date" in capsys.readouterr().out
    assert main(["convert", "--no-progress", "--jobs", "1", archive, "-o", str(robot_archive / "plain")]) == 0
    table = read_recording(robot_archive / "plain" / "robot2/2024-05-01/run_0.rrd", index="message_log_time")
    assert "/camera/color/image_raw" in entities(table)  # without the option: the bag's topics as they are


@pytest.mark.parametrize(("args", "problem"), [
    (["--namespace-from-path", "3"], "robot1/2024-05-01/run_0, has no part 3"),
    (["--namespace-from-path", "1"], "--namespace-from-path 1: '2024-05-01' is not a ROS namespace"),
    (["--namespace-from-path", "0", "--namespace", "/robot1"], "not with namespaces"),
])  # fmt: skip
def test_a_namespace_from_the_path_that_does_not_fit_is_a_usage_error(robot_archive, tmp_path, caplog, args, problem):
    assert main(["convert", "--no-progress", str(robot_archive / "archive"), "-o", str(tmp_path / "out"), *args]) == 2
    assert problem in caplog.text
    assert not (tmp_path / "out").exists()


# -- one bridge per robot, each its own recording, into one viewer --------------------------------


def settled(path: Path, quiet_s: float = 1.0, within_s: float = 60.0) -> None:
    """Wait until `path` has stopped growing: the viewer has saved what the bridges sent it."""
    deadline = time.monotonic() + within_s
    size = -1
    while time.monotonic() < deadline and (not path.exists() or path.stat().st_size != size):
        size = path.stat().st_size if path.exists() else -1
        time.sleep(quiet_s)


def test_one_bridge_per_robot_gives_each_its_own_recording_in_one_viewer(tmp_path):
    """The other way: `--namespace` and `--recording-id` per robot, every bridge streaming to one viewer."""
    bag = write_bag_as(tmp_path / "fleet", sorted(robot_messages("/robot1") + robot_messages("/robot2"), key=lambda m: m[2]))
    port = free_port()
    received = tmp_path / "viewer.rrd"
    # Rerun's own viewer process, headless: it saves what it receives. Its own process group, as in test_viewer_gone.
    viewer = subprocess.Popen([str(Path(sys.executable).with_name("rerun")), "--port", str(port), "--bind", "127.0.0.1",
                               "--save", str(received)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              start_new_session=True)  # fmt: skip
    try:
        wait_for_port(port)
        for ns in ROBOTS:
            robot = ns.lstrip("/")
            with running_bridge("replay", bag, "--namespace", ns, "--application-id", "fleet", "--recording-id", robot,
                                "--connect", str(port)) as bridge:  # fmt: skip
                _, stderr = bridge.communicate(timeout=120)
            assert bridge.returncode == 0, stderr
        settled(received)
    finally:
        # What it received is in its file, streamed as it came; both processes go, as in test_viewer_gone.
        os.killpg(viewer.pid, signal.SIGKILL)
        viewer.wait()

    with rr.server.Server(datasets={"d": [str(received)]}) as server:
        dataset = server.client().get_dataset("d")
        assert sorted(dataset.segment_ids()) == ["robot1", "robot2"]
        table = dataset.reader(index="message_log_time").to_arrow_table()
    for ns in ROBOTS:
        rows = table.filter(pc.equal(table["rerun_segment_id"], ns.lstrip("/")))
        logged = {name.split(":")[0] for name in rows.column_names if ":" in name and rows[name].null_count < len(rows)}
        assert logged == {ns + name for name in ("/camera/color/image_raw", "/camera/color/camera_info", "/tf", "/tf_static")}
        assert rows.filter(pc.is_valid(rows[f"{ns}/camera/color/image_raw:Image:buffer"])).num_rows == FRAMES
