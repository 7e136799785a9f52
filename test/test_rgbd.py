"""Depth registration and true-colour clouds: a synthetic RGB-D bag replayed, the .rrd read back through Rerun.

A box 1 m away (0.4 x 0.3 m) in front of a checkered wall 3 m away, seen by a depth camera and by a colour
camera 5 cm to its right (+x of the optical frames), both below a `camera_link` in /tf_static with REP 103's
optical rotation. The colour image is ray-cast through the colour camera, so its edges are where the scene's are.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from bridge.cli import main
from recordings import camera_info_msg, column, image_msg, read_recording, tf_msg, write_bag

S = 1_000_000_000
T0 = 1_700_000_000 * S
PERIOD = S // 10
DEPTH_FRAME, COLOUR_FRAME = "cam_depth_optical_frame", "cam_colour_optical_frame"
DEPTH_K = np.array([[250.0, 0, 160.0], [0, 250.0, 120.0], [0, 0, 1]])
COLOUR_K = np.array([[240.0, 0, 158.0], [0, 240.0, 122.0], [0, 0, 1]])
SIZE = (320, 240)
BASELINE = 0.05  # the colour camera sits 5 cm along +x of the depth camera's optical frame
BOX = (-0.2, 0.2, -0.15, 0.15)  # x, y extents at z = 1 m, depth frame
HOLE = (slice(20, 40), slice(20, 60))  # depth pixels with no reading
OPTICAL = (-0.5, 0.5, -0.5, 0.5)  # camera_link (x forward, y left) -> optical (x right, y down, z forward)
RED = (220, 30, 30)
DEPTH_TOPIC, COLOUR_TOPIC = "/cam/depth/image_raw", "/cam/color/image_raw"


@dataclass(frozen=True)
class Scene:
    """What one RGB-D camera sees and how it is built: the box `near` metres away (its extents BOX scaled with it,
    so it fills the same depth pixels) in `box_colour`, the wall at 3 m; the colour camera `baseline` metres along
    +x of the depth camera's optical frame; `camera_link` at `place` in the map."""

    near: float = 1.0
    box_colour: tuple[int, int, int] = RED
    baseline: float = BASELINE
    place: tuple[float, float, float] = (0.0, 0.0, 0.0)


def static_tf(scene: Scene = Scene(), frame=str):
    # optical +x is camera_link's -y
    return tf_msg([("map", frame("camera_link"), scene.place, (0.0, 0.0, 0.0, 1.0)),
                   (frame("camera_link"), frame(DEPTH_FRAME), (0.0, 0.0, 0.0), OPTICAL),
                   (frame("camera_link"), frame(COLOUR_FRAME), (0.0, -scene.baseline, 0.0), OPTICAL)], T0)  # fmt: skip


def depth_mm(scene: Scene = Scene()) -> np.ndarray:
    vs, us = np.mgrid[0 : SIZE[1], 0 : SIZE[0]]
    x, y = (us - DEPTH_K[0, 2]) / DEPTH_K[0, 0], (vs - DEPTH_K[1, 2]) / DEPTH_K[1, 1]  # at z = 1
    on_box = (x >= BOX[0]) & (x <= BOX[1]) & (y >= BOX[2]) & (y <= BOX[3])
    depth = np.where(on_box, round(scene.near * 1000), 3000).astype(np.uint16)
    depth[HOLE] = 0
    return depth


def wall_colour(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The wall's checker at depth-frame (x, y) on the plane z = 3 m: squares of 0.25 m, green and blue."""
    dark = (np.floor(x / 0.25) + np.floor(y / 0.25)) % 2 == 0
    return np.where(dark[..., None], np.array([40, 160, 60], np.uint8), np.array([40, 60, 200], np.uint8))


def colour_rgb(scene: Scene = Scene()) -> np.ndarray:
    """Ray-cast from the colour camera: the box where its ray meets it at z = near, else the wall at 3 m."""
    vs, us = np.mgrid[0 : SIZE[1], 0 : SIZE[0]]
    dx, dy = (us - COLOUR_K[0, 2]) / COLOUR_K[0, 0], (vs - COLOUR_K[1, 2]) / COLOUR_K[1, 1]
    bx, by = scene.baseline / scene.near + dx, dy  # where the ray crosses z = near, in the depth frame, over near
    on_box = (bx >= BOX[0]) & (bx <= BOX[1]) & (by >= BOX[2]) & (by <= BOX[3])
    wall = wall_colour(scene.baseline + 3 * dx, 3 * dy)
    return np.where(on_box[..., None], np.array(scene.box_colour, np.uint8), wall).astype(np.uint8)


def rgbd_messages(scene: Scene = Scene(), frames: int = 4, with_tf: bool = True, ns: str = "", start: int = T0,
                  global_tf: bool = False, colour_k: np.ndarray = COLOUR_K) -> list:  # fmt: skip
    """One RGB-D camera's messages, its topics under `ns` (a fleet's robot). `global_tf`: its frames are named
    `robot1/...` already, on the global /tf_static (robot_state_publisher's frame_prefix), not on its own.
    The colour CameraInfo's P is COLOUR_K, the matrix its images are made with; its K is `colour_k`."""
    colour_p = np.hstack([COLOUR_K, np.zeros((3, 1))])
    frame = (lambda name: f"{ns.lstrip('/')}/{name}") if global_tf else str
    messages = [("/tf_static" if global_tf else f"{ns}/tf_static", static_tf(scene, frame), start)] if with_tf else []
    for i in range(frames):
        stamp = start + i * PERIOD
        messages += [
            (f"{ns}/cam/depth/camera_info", camera_info_msg(DEPTH_K, *SIZE, stamp, frame(DEPTH_FRAME)), stamp),
            (f"{ns}/cam/color/camera_info", camera_info_msg(colour_k, *SIZE, stamp, frame(COLOUR_FRAME), colour_p), stamp),
            (ns + DEPTH_TOPIC, image_msg(depth_mm(scene), "16UC1", stamp, frame(DEPTH_FRAME)), stamp),  # before its colour
            (ns + COLOUR_TOPIC, image_msg(colour_rgb(scene)[..., ::-1], "bgr8", stamp + S // 200, frame(COLOUR_FRAME)),
             stamp + 1),  # 5 ms later
        ]  # fmt: skip
    return messages


def rgbd_bag(path: Path, frames: int = 4, with_tf: bool = True) -> Path:
    return write_bag(path, rgbd_messages(frames=frames, with_tf=with_tf))


def replay(tmp_path: Path, bag: Path, config: str) -> Path:
    (tmp_path / "bridge.yaml").write_text(config)
    out = tmp_path / "out.rrd"
    assert main(["replay", "--no-progress", str(bag), "-c", str(tmp_path / "bridge.yaml"), "-o", str(out)]) == 0
    return out


CONFIG = f"""
topics:
  {DEPTH_TOPIC}:
    register: {{to: {COLOUR_TOPIC}}}
    point_cloud: {{color_from: {COLOUR_TOPIC}, max_points: 20000, max_rate: 5}}
"""


def depth_images(table, entity: str) -> list[np.ndarray]:
    formats, buffers = column(table, f"{entity}:DepthImage:format"), column(table, f"{entity}:DepthImage:buffer")
    return [np.asarray(b[0], np.uint8).view(np.uint16).reshape(f[0]["height"], f[0]["width"]) for f, b in zip(formats, buffers)]


@pytest.fixture(scope="module")
def recording(tmp_path_factory: pytest.TempPathFactory):
    tmp_path = tmp_path_factory.mktemp("rgbd")
    return read_recording(replay(tmp_path, rgbd_bag(tmp_path / "bag"), CONFIG))


def test_registered_depth_edges_lie_on_colour_edges(recording) -> None:
    registered = depth_images(recording, DEPTH_TOPIC + "/registered")
    assert len(registered) == 4 and registered[0].shape == (SIZE[1], SIZE[0])
    assert len(depth_images(recording, DEPTH_TOPIC)) == 4  # the raw depth, beside it
    assert column(recording, DEPTH_TOPIC + "/registered:CoordinateFrame:frame")[0] == [COLOUR_FRAME + "_image_plane"]
    assert column(recording, DEPTH_TOPIC + "/registered:DepthImage:meter")[0] == [1000.0]
    depth, red = registered[0], (colour_rgb() == RED).all(axis=2)
    for row in range(100, 141, 10):  # rows through the box: its left and right edges
        near, box = np.flatnonzero(depth[row] == 1000), np.flatnonzero(red[row])
        assert abs(near[0] - box[0]) <= 1 and abs(near[-1] - box[-1]) <= 1, (row, near[[0, -1]], box[[0, -1]])
    for col in range(120, 181, 20):  # columns: its top and bottom edges
        near, box = np.flatnonzero(depth[:, col] == 1000), np.flatnonzero(red[:, col])
        assert abs(near[0] - box[0]) <= 1 and abs(near[-1] - box[-1]) <= 1, (col, near[[0, -1]], box[[0, -1]])


def test_registration_keeps_the_nearer_surface_and_leaves_holes_invalid(recording) -> None:
    depth = depth_images(recording, DEPTH_TOPIC + "/registered")[0]
    red = (colour_rgb() == RED).all(axis=2)
    inner = red & np.roll(red, 2, 1) & np.roll(red, -2, 1) & np.roll(red, 2, 0) & np.roll(red, -2, 0)
    assert (depth[inner] == 1000).all()  # wall points behind the box land there too: the box wins
    # the wall right of the box, which the colour camera sees and the depth camera does not: invalid
    row = int(COLOUR_K[1, 2])
    right = COLOUR_K[0, 0] * (BOX[1] - BASELINE) + COLOUR_K[0, 2]
    wall_seen = COLOUR_K[0, 0] * (3 * BOX[1] - BASELINE) / 3 + COLOUR_K[0, 2]
    assert (depth[row, int(right) + 2 : int(wall_seen) - 1] == 0).all()
    # the depth hole, where it lands in the colour image: invalid too
    u = (np.arange(HOLE[1].start, HOLE[1].stop) - DEPTH_K[0, 2]) / DEPTH_K[0, 0] * 3 - BASELINE
    v = (np.arange(HOLE[0].start, HOLE[0].stop) - DEPTH_K[1, 2]) / DEPTH_K[1, 1] * 3
    cols = np.rint(COLOUR_K[0, 0] * u / 3 + COLOUR_K[0, 2]).astype(int)
    rows = np.rint(COLOUR_K[1, 1] * v / 3 + COLOUR_K[1, 2]).astype(int)
    assert (depth[rows[1:-1, None], cols[None, 1:-1]] == 0).all()
    assert (depth[200:230, 200:300] == 3000).all()  # and the wall elsewhere is there


def test_cloud_has_the_colour_images_colours_at_its_points(recording) -> None:
    positions = column(recording, DEPTH_TOPIC + "/points:Points3D:positions")
    colours = column(recording, DEPTH_TOPIC + "/points:Points3D:colors")
    assert len(positions) == 2  # four pairs at 10 Hz, max_rate 5
    assert column(recording, DEPTH_TOPIC + "/points:CoordinateFrame:frame")[0] == [DEPTH_FRAME]
    points = np.array(positions[0], np.float64)
    rgba = np.array(colours[0], np.uint32)
    rgb = np.stack([(rgba >> 24) & 255, (rgba >> 16) & 255, (rgba >> 8) & 255], axis=1).astype(np.uint8)
    assert 10_000 < len(points) <= 20_000
    # each point has the colour of the colour image's pixel it projects onto (computed here from the baseline)
    u = np.rint(COLOUR_K[0, 0] * (points[:, 0] - BASELINE) / points[:, 2] + COLOUR_K[0, 2]).astype(int)
    v = np.rint(COLOUR_K[1, 1] * points[:, 1] / points[:, 2] + COLOUR_K[1, 2]).astype(int)
    assert (rgb == colour_rgb()[v, u]).all()
    # and so the box is red and the wall, where the colour camera sees it, has its checker
    on_box = np.isclose(points[:, 2], 1.0)
    assert on_box.sum() > 1000 and (rgb[on_box] == RED).all()
    def off_lines(values: np.ndarray) -> np.ndarray:  # more than two colour pixels (at 3 m) from a checker line
        return np.abs((values + 0.125) % 0.25 - 0.125) > 2 * 3 / COLOUR_K[0, 0]

    clear = ~on_box & (np.abs(points[:, 0]) > 1.0) & off_lines(points[:, 0]) & off_lines(points[:, 1])
    assert clear.sum() > 1000 and (rgb[clear] == wall_colour(points[clear, 0], points[clear, 1])).all()


def test_summary_counts_what_became_of_the_frames(tmp_path: Path, capsys) -> None:
    replay(tmp_path, rgbd_bag(tmp_path / "bag"), CONFIG)
    err = capsys.readouterr().err
    assert f"{DEPTH_TOPIC} (registered): 4 logged" in err
    assert f"{DEPTH_TOPIC} (cloud): 2 logged, 2 rate-limited" in err


def test_without_tf_only_raw_depth_and_one_warning(tmp_path: Path, caplog, capsys) -> None:
    with caplog.at_level(logging.WARNING, logger="ros2_rerun_bridge"):
        out = replay(tmp_path, rgbd_bag(tmp_path / "bag", with_tf=False), CONFIG)
    warnings = [r.getMessage() for r in caplog.records if r.getMessage().startswith(DEPTH_TOPIC + ":")]
    assert warnings == [f"{DEPTH_TOPIC}: not registered: no transform {DEPTH_FRAME} -> {COLOUR_FRAME}: frames "
                        f"{DEPTH_FRAME!r} and {COLOUR_FRAME!r} are not connected (no common ancestor)",
                        f"{DEPTH_TOPIC}: no cloud: no transform {DEPTH_FRAME} -> {COLOUR_FRAME}: frames "
                        f"{DEPTH_FRAME!r} and {COLOUR_FRAME!r} are not connected (no common ancestor)"]  # fmt: skip
    table = read_recording(out)
    assert len(depth_images(table, DEPTH_TOPIC)) == 4
    assert not any(name.startswith((DEPTH_TOPIC + "/registered", DEPTH_TOPIC + "/points")) for name in table.column_names)
    err = capsys.readouterr().err
    assert f"{DEPTH_TOPIC} (registered): 4 no transform" in err


def test_unmatched_pairs_are_counted(tmp_path: Path, capsys) -> None:
    config = CONFIG.replace("max_rate: 5", "max_rate: null, stamp_tolerance: 0.001")  # the colour frames are 5 ms late
    table = read_recording(replay(tmp_path, rgbd_bag(tmp_path / "bag"), config))
    assert not any(name.startswith(DEPTH_TOPIC + "/points") for name in table.column_names)
    assert f"{DEPTH_TOPIC} (cloud): 4 unmatched" in capsys.readouterr().err


@pytest.mark.parametrize("change, problem", [
    ((f"to: {COLOUR_TOPIC}", f"to: {COLOUR_TOPIC}/compressed"),
     f"topics.{DEPTH_TOPIC}.register.to: {COLOUR_TOPIC}/compressed is an image_transport compressed topic"),
    (("topics:", f"topics:\n  {COLOUR_TOPIC}: {{kind: depth}}"),
     f"topics.{DEPTH_TOPIC}.register.to: {COLOUR_TOPIC} is configured as kind depth, not an Image topic"),
    (("topics:", "exclude: ['/cam/color/.*']\ntopics:"),
     f"topics.{DEPTH_TOPIC}.register.to: {COLOUR_TOPIC} is not bridged"),
])  # fmt: skip
def test_check_config_refuses_a_colour_topic_that_is_not_a_bridged_image(change, problem, tmp_path: Path, caplog) -> None:
    (tmp_path / "bridge.yaml").write_text(CONFIG.replace(*change, 1))
    assert main(["check-config", str(tmp_path / "bridge.yaml")]) == 2
    assert problem in caplog.text


def test_a_colour_topic_that_brings_compressed_images_is_said_once(tmp_path: Path, caplog) -> None:
    """A colour topic whose name does not say it is compressed: found out when its messages come."""
    from bridge.config import SinksConfig, parse_config
    from bridge.core import Bridge
    from bridge.sinks import Recording
    from recordings import compressed_msg

    config = parse_config({"topics": {DEPTH_TOPIC: {"register": "/cam/color/jpeg"}}}).with_sinks(SinksConfig(file=tmp_path / "c.rrd"))
    bridge = Bridge(config, Recording(config.recording))
    with caplog.at_level(logging.WARNING, logger="ros2_rerun_bridge"):
        for i in range(3):
            route = bridge.route("/cam/color/jpeg", "sensor_msgs/msg/CompressedImage")
            bridge.handle(route, compressed_msg(b"\xff\xd8 not quite a jpeg", "jpeg", i, COLOUR_FRAME), i)
            bridge.handle(bridge.route(DEPTH_TOPIC, "sensor_msgs/msg/Image"), image_msg(depth_mm(), "16UC1", i, DEPTH_FRAME), i)
    bridge.close()
    bridge.recording.close(keep_file=True)
    said = [r.getMessage() for r in caplog.records if "is a sensor_msgs/msg/CompressedImage topic" in r.getMessage()]
    assert said == [f"{DEPTH_TOPIC}: not registered, no cloud: /cam/color/jpeg is a sensor_msgs/msg/CompressedImage topic, "
                    "not an Image"]  # fmt: skip
    assert bridge.stats[DEPTH_TOPIC].logged == 3  # the raw depth all the same


@pytest.mark.parametrize("encoding, pixels, expected", [
    ("rgb8", [[[1, 2, 3]]], [1, 2, 3]),
    ("bgr8", [[[1, 2, 3]]], [3, 2, 1]),
    ("rgba8", [[[1, 2, 3, 4]]], [1, 2, 3]),
    ("bgra8", [[[1, 2, 3, 4]]], [3, 2, 1]),
    ("mono8", [[7]], [7, 7, 7]),
    ("mono16", [[0x1234]], [0x12, 0x12, 0x12]),
    ("rgb16", [[[0x0100, 0x0200, 0xFF00]]], [1, 2, 255]),
])  # fmt: skip
def test_colour_pixels_of_each_encoding(encoding: str, pixels, expected) -> None:
    from bridge.conversion.rgbd import rgb_pixels

    dtype = np.uint16 if "16" in encoding else np.uint8
    assert rgb_pixels(image_msg(np.array(pixels, dtype), encoding)).tolist() == [[expected]]


@pytest.mark.parametrize("encoding", ["32FC1", "bayer_rggb8", "yuv422", "8UC2"])
def test_colour_pixels_refuse_what_cannot_colour_a_cloud(encoding: str) -> None:
    from bridge.conversion import ConversionError
    from bridge.conversion.rgbd import rgb_pixels

    pixels = {"32FC1": np.zeros((2, 2), np.float32), "8UC2": np.zeros((2, 2, 2), np.uint8)}.get(encoding, np.zeros((2, 4), np.uint8))
    with pytest.raises(ConversionError, match="cannot colour a cloud"):
        rgb_pixels(image_msg(pixels, encoding, 0), 1000)


# -- a fleet: each robot's depth registered into its own colour camera, its cloud coloured from it -----------------

ROBOTS = ["/robot1", "/robot2"]
YELLOW = (230, 200, 20)
# The same topics and frame names on both; the colour cameras sit at other baselines, the boxes at other distances
# and in other colours, the robots at other places in the map, with other frame rates and stamps: whatever one
# robot's products took from the other's frames would not match its own.
ROBOT_SCENES = {"/robot1": Scene(), "/robot2": Scene(near=1.5, box_colour=YELLOW, baseline=0.12, place=(2.0, 1.0, 0.0))}
ROBOT_FRAMES = {"/robot1": 4, "/robot2": 3}
ROBOT_START = {"/robot1": T0, "/robot2": T0 + 3 * S // 100}
# A cloud for every pair (as many as depth frames), at a configured entity (under each robot's namespace); the
# colour camera's matrix from P (each robot's K is another).
FLEET_CONFIG = CONFIG.replace("max_rate: 5", "max_rate: null, entity_path: /cam/cloud") + "  /cam/color/camera_info: {intrinsics: P}\n"
RAW_COLOUR_K = np.array([[200.0, 0, 150.0], [0, 200.0, 110.0], [0, 0, 1]])
PRODUCTS = [DEPTH_TOPIC, DEPTH_TOPIC + "/registered", "/cam/cloud", COLOUR_TOPIC, "/cam/depth/camera_info",
            "/cam/color/camera_info"]  # fmt: skip


def robot_messages(ns: str, global_tf: bool = False, namespaced: bool = True) -> list:
    """One robot's RGB-D camera: its topics under its namespace (`namespaced`: as one bag of the fleet holds them)."""
    messages = rgbd_messages(ROBOT_SCENES[ns], ROBOT_FRAMES[ns], ns=ns, start=ROBOT_START[ns], global_tf=global_tf,
                             colour_k=RAW_COLOUR_K)  # fmt: skip
    return messages if namespaced else [(topic[len(ns):], msg, log_time) for topic, msg, log_time in messages]


def stamps(table, name: str) -> list[int]:
    """The ros2_timestamp of each row where column `ENTITY:Archetype:field` has data."""
    times = table.column("ros2_timestamp").cast(pa.int64()).to_pylist()
    return [t for t, cell in zip(times, table.column(name).to_pylist()) if cell is not None]


def robot_entities(table, ns: str) -> set[str]:
    return {name.split(":")[0] for name in table.column_names if name.startswith(ns + "/")}


def check_registered(table, ns: str) -> None:
    """Each of the robot's depth frames registered into its own colour camera, with its own transform."""
    scene, robot, entity = ROBOT_SCENES[ns], ns.lstrip("/"), ns + DEPTH_TOPIC + "/registered"
    registered = depth_images(table, entity)
    assert len(registered) == ROBOT_FRAMES[ns]
    assert stamps(table, f"{entity}:DepthImage:buffer") == [ROBOT_START[ns] + i * PERIOD for i in range(ROBOT_FRAMES[ns])]
    assert {tuple(c) for c in column(table, f"{entity}:CoordinateFrame:frame")} == {(f"{robot}/{COLOUR_FRAME}_image_plane",)}
    box = (colour_rgb(scene) == scene.box_colour).all(axis=2)  # where its colour camera sees its box
    for depth in registered:
        assert set(np.unique(depth)) == {0, round(scene.near * 1000), 3000}
        for row in range(100, 141, 10):  # the box's edges land on its colour image's (the other baseline: 11 px or more off)
            near, seen = np.flatnonzero(depth[row] == round(scene.near * 1000)), np.flatnonzero(box[row])
            assert abs(near[0] - seen[0]) <= 1 and abs(near[-1] - seen[-1]) <= 1, (ns, row, near[[0, -1]], seen[[0, -1]])


def check_cloud(table, ns: str) -> None:
    """Each of the robot's depth frames a cloud in its own depth frame, coloured from its own colour image."""
    scene, robot, entity = ROBOT_SCENES[ns], ns.lstrip("/"), ns + "/cam/cloud"
    positions, colours = column(table, f"{entity}:Points3D:positions"), column(table, f"{entity}:Points3D:colors")
    assert len(positions) == ROBOT_FRAMES[ns]
    assert stamps(table, f"{entity}:Points3D:positions") == [ROBOT_START[ns] + i * PERIOD for i in range(ROBOT_FRAMES[ns])]
    assert {tuple(c) for c in column(table, f"{entity}:CoordinateFrame:frame")} == {(f"{robot}/{DEPTH_FRAME}",)}
    for cell, colour in zip(positions, colours):
        points, rgba = np.array(cell, np.float64), np.array(colour, np.uint32)
        rgb = np.stack([(rgba >> 24) & 255, (rgba >> 16) & 255, (rgba >> 8) & 255], axis=1).astype(np.uint8)
        u = np.rint(COLOUR_K[0, 0] * (points[:, 0] - scene.baseline) / points[:, 2] + COLOUR_K[0, 2]).astype(int)
        v = np.rint(COLOUR_K[1, 1] * points[:, 1] / points[:, 2] + COLOUR_K[1, 2]).astype(int)
        assert (rgb == colour_rgb(scene)[v, u]).all(), ns  # its own colour image, seen through its own baseline
        # so its box has its box's colour (but where an edge rounds onto the wall), and none has the other's
        on_box = np.isclose(points[:, 2], scene.near)
        assert on_box.sum() > 1000 and (rgb[on_box] == scene.box_colour).all(axis=1).mean() > 0.95, ns
        others = {other.box_colour for other in ROBOT_SCENES.values()} - {scene.box_colour}
        assert not any((rgb == other).all(axis=1).any() for other in others), ns


def replay_fleet(tmp_path: Path, global_tf: bool) -> Path:
    """A bag of both robots, replayed with their namespaces: frames prefixed by robot (the shared map left as it
    is), or, `global_tf`, named by robot already on one /tf_static and kept as they are."""
    messages = sorted((m for ns in ROBOTS for m in robot_messages(ns, global_tf)), key=lambda m: m[2])
    (tmp_path / "bridge.yaml").write_text(FLEET_CONFIG)
    out = tmp_path / "fleet.rrd"
    frames = ["--keep-frame-names"] if global_tf else ["--shared-frame", "map"]
    assert main(["replay", "--no-progress", str(write_bag(tmp_path / "fleet", messages)), "-c", str(tmp_path / "bridge.yaml"),
                 "-o", str(out), *(arg for ns in ROBOTS for arg in ("--namespace", ns)), *frames]) == 0  # fmt: skip
    return out


@pytest.fixture(scope="module", params=[False, True], ids=["frames prefixed", "frames kept"])
def fleet(request, tmp_path_factory: pytest.TempPathFactory):
    return request.param, read_recording(replay_fleet(tmp_path_factory.mktemp("fleet"), global_tf=request.param))


def test_each_robots_registered_depth_and_cloud_are_under_its_namespace(fleet) -> None:
    global_tf, table = fleet
    tf = [] if global_tf else ["/tf_static"]
    for ns in ROBOTS:
        assert robot_entities(table, ns) == {ns + name for name in PRODUCTS + tf}
    assert {name.split(":")[0] for name in table.column_names if ":" in name} - {"/tf_static"} == {
        ns + name for ns in ROBOTS for name in PRODUCTS + tf
    }  # nothing registered or clouded outside the robots


@pytest.mark.parametrize("ns", ROBOTS)
def test_each_robots_depth_is_registered_with_its_own_camera_and_transform(fleet, ns) -> None:
    check_registered(fleet[1], ns)


@pytest.mark.parametrize("ns", ROBOTS)
def test_each_robots_cloud_has_its_own_colour_images_colours(fleet, ns) -> None:
    check_cloud(fleet[1], ns)


def test_the_summary_counts_each_robots_products(tmp_path: Path, capsys) -> None:
    replay_fleet(tmp_path, global_tf=False)
    err = capsys.readouterr().err
    for ns in ROBOTS:
        frames = ROBOT_FRAMES[ns]
        assert f"{ns}{DEPTH_TOPIC} (registered): {frames} logged" in err and f"{ns}{DEPTH_TOPIC} (cloud): {frames} logged" in err


def test_an_archive_by_robot_converts_each_bag_with_its_robots_products(tmp_path: Path) -> None:
    """`convert --namespace-from-path`: each robot's own bag, its topics and frames without a namespace."""
    for ns in ROBOTS:
        write_bag(tmp_path / "archive" / ns.lstrip("/") / "run_0", robot_messages(ns, namespaced=False))
    (tmp_path / "bridge.yaml").write_text(FLEET_CONFIG)
    assert main(["convert", "--no-progress", "--jobs", "1", str(tmp_path / "archive"), "-o", str(tmp_path / "out"),
                 "-c", str(tmp_path / "bridge.yaml"), "--namespace-from-path", "0", "--shared-frame", "map"]) == 0  # fmt: skip
    for ns in ROBOTS:
        table = read_recording(tmp_path / "out" / ns.lstrip("/") / "run_0.rrd")
        assert {name.split(":")[0] for name in table.column_names if ":" in name} == {ns + name for name in PRODUCTS + ["/tf_static"]}
        check_registered(table, ns)
        check_cloud(table, ns)
