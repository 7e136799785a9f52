"""The demo bag: a real rosbag2 whose depth is geometrically right, and the `demo` command end to end.

The geometry checks go the way a ROS consumer does (depth_image_proc,
tf2): the camera pose comes from the bag's /tf and /tf_static, the
intrinsics from its CameraInfo, and rotations are applied with quaternion
algebra written here, independent of the demo's own matrices.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from recordings import column, image_msg, last_chunk_rows, read_recording, write_bag
from rosbags.highlevel import AnyReader

from bridge import demo
from bridge.cli import main

FRAMES, WIDTH, HEIGHT = 8, 160, 120


@pytest.fixture(scope="module")
def bag(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return demo.write_demo_bag(tmp_path_factory.mktemp("demo") / "bag", FRAMES, WIDTH, HEIGHT)


@pytest.fixture(scope="module")
def messages(bag: Path) -> dict[str, list[tuple[int, object]]]:
    """Per topic, (log time ns, message) in log-time order."""
    by_topic: dict[str, list[tuple[int, object]]] = {}
    with AnyReader([bag]) as reader:
        for connection, log_ns, raw in reader.messages():
            by_topic.setdefault(connection.topic, []).append((log_ns, reader.deserialize(raw, connection.msgtype)))
    return by_topic


def stamp_ns(msg) -> int:
    return msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec


def rotate(q, v: np.ndarray) -> np.ndarray:
    """Rotate vectors (..., 3) by the unit quaternion q (x, y, z, w): v + 2w(u x v) + 2u x (u x v)."""
    u, w = np.array([q.x, q.y, q.z]), q.w
    twice_cross = 2 * np.cross(u, v)
    return v + w * twice_cross + np.cross(u, twice_cross)


def inverse(q):
    return type(q)(x=-q.x, y=-q.y, z=-q.z, w=q.w)


def vector(v) -> np.ndarray:
    return np.array([v.x, v.y, v.z])


def camera_chain(messages, frame: int, camera: str = demo.COLOR_TOPIC) -> tuple[object, object]:
    """world <- camera_link (the frame's /tf) and camera_link <- optical (/tf_static), as tf2 would chain them,
    for the camera of image topic `camera` (the depth camera is at the colour camera's place)."""
    optical_frame = messages[camera][frame][1].header.frame_id
    (static,) = [t for t in messages["/tf_static"][0][1].transforms if t.child_frame_id == optical_frame]
    (moving,) = messages["/tf"][frame][1].transforms
    assert (moving.header.frame_id, moving.child_frame_id) == (demo.WORLD_FRAME, static.header.frame_id)
    return moving.transform, static.transform


def world_to_optical(points: np.ndarray, chain) -> np.ndarray:
    world_from_link, link_from_optical = chain
    in_link = rotate(inverse(world_from_link.rotation), points - vector(world_from_link.translation))
    return rotate(inverse(link_from_optical.rotation), in_link - vector(link_from_optical.translation))


def optical_to_world(points: np.ndarray, chain) -> np.ndarray:
    world_from_link, link_from_optical = chain
    in_link = rotate(link_from_optical.rotation, points) + vector(link_from_optical.translation)
    return rotate(world_from_link.rotation, in_link) + vector(world_from_link.translation)


def depth_pixels(msg) -> np.ndarray:
    assert (msg.encoding, msg.is_bigendian, msg.step) == ("16UC1", 0, msg.width * 2)
    return np.frombuffer(msg.data, "<u2").reshape(msg.height, msg.width)


def distance_to_scene(points: np.ndarray) -> np.ndarray:
    """Distance from each point (N, 3) to the nearest surface of the demo scene."""
    distances = []
    for shape in demo.SCENE:
        if isinstance(shape, demo.Sphere):
            distances.append(np.abs(np.linalg.norm(points - shape.center, axis=1) - shape.radius))
        else:  # Box or Rectangle (a box of zero thickness)
            low, high = np.array(shape.low), np.array(shape.high)
            q = np.abs(points - (low + high) / 2) - (high - low) / 2
            distances.append(np.abs(np.linalg.norm(np.maximum(q, 0), axis=1) + np.minimum(q.max(axis=1), 0)))
    return np.min(distances, axis=0)


def test_bag_is_an_mcap_rosbag2_with_the_camera_topics(bag: Path, messages) -> None:
    assert list(bag.glob("*.mcap"))
    with AnyReader([bag]) as reader:
        topics = {c.topic: (c.msgtype, c.msgcount) for c in reader.connections}
    assert topics == {
        topic: (msgtype, 1 if topic == "/tf_static" else FRAMES) for topic, msgtype in demo.TOPICS.items()
    }  # fmt: skip
    expected_ns = [demo.START_NS + round(i * 1e9 / demo.FRAME_RATE) for i in range(FRAMES)]
    for topic in demo.TOPICS.keys() - {"/tf", "/tf_static"}:
        assert [log_ns for log_ns, _ in messages[topic]] == expected_ns, topic
        assert [stamp_ns(msg) for _, msg in messages[topic]] == expected_ns, topic
        frame = {"depth": demo.DEPTH_FRAME, "wide": demo.WIDE_FRAME}.get(topic.split("/")[2], demo.OPTICAL_FRAME)
        assert {msg.header.frame_id for _, msg in messages[topic]} == {frame}, topic


def test_camera_info_is_a_square_pixel_pinhole_without_distortion(messages) -> None:
    _, info = messages["/camera/color/camera_info"][0]
    k = info.k.reshape(3, 3)
    assert (info.width, info.height, info.distortion_model) == (WIDTH, HEIGHT, "plumb_bob")
    assert k[0, 0] == k[1, 1] > 0 and 0 < k[0, 2] < WIDTH and 0 < k[1, 2] < HEIGHT
    np.testing.assert_array_equal(info.p.reshape(3, 4), np.hstack([k, np.zeros((3, 1))]))
    np.testing.assert_array_equal(info.r, np.eye(3).ravel())
    assert not info.d.any()


def test_static_transform_is_the_rep_103_optical_rotation(messages) -> None:
    color, depth, wide = messages["/tf_static"][0][1].transforms
    assert (color.header.frame_id, color.child_frame_id) == ("camera_link", "camera_color_optical_frame")
    assert (depth.header.frame_id, depth.child_frame_id) == ("camera_link", "camera_depth_optical_frame")
    assert (wide.header.frame_id, wide.child_frame_id) == ("camera_link", "camera_wide_optical_frame")
    assert depth.transform == color.transform  # the depth is aligned to the colour camera
    assert wide.transform.rotation == color.transform.rotation and vector(wide.transform.translation)[1] == 0.06
    static = color
    optical_axes = np.eye(3)  # x right, y down, z forward
    link_axes = rotate(static.transform.rotation, optical_axes)  # camera_link: x forward, y left, z up
    np.testing.assert_allclose(link_axes, [[0, -1, 0], [0, 0, -1], [1, 0, 0]], atol=1e-12)


def test_depth_at_the_red_sphere_centre_is_the_distance_to_its_surface(messages) -> None:
    sphere = demo.SPHERES[0]
    for frame in range(FRAMES):
        center = world_to_optical(np.array(sphere.center), camera_chain(messages, frame))
        k = messages["/camera/depth/camera_info"][frame][1].k.reshape(3, 3)
        u, v, _ = k @ center / center[2]
        pixel_u, pixel_v = round(u), round(v)
        assert 0 <= pixel_u < WIDTH and 0 <= pixel_v < HEIGHT
        expected_mm = center[2] * (1 - sphere.radius / np.linalg.norm(center)) * 1000
        depth_mm = depth_pixels(messages[demo.DEPTH_TOPIC][frame][1])[pixel_v, pixel_u]
        assert abs(int(depth_mm) - expected_mm) < 3, f"frame {frame}"
        red, green, blue = messages[demo.COLOR_TOPIC][frame][1].data.reshape(HEIGHT, WIDTH, 3)[pixel_v, pixel_u]
        assert red > int(green) + int(blue), "the colour image is aligned with the depth"


def test_wide_camera_rays_follow_its_lens_model() -> None:
    """Each raw pixel of the wide camera is ray cast along the direction that OpenCV's plumb_bob model projects
    back onto that pixel; the lens bends the corners' rays by tens of pixels."""
    wide = demo.WideCamera.of_size(480, 360)
    directions = wide.directions().T.astype(np.float64)
    projected = cv2.projectPoints(directions, np.zeros(3), np.zeros(3), wide.k, wide.d)[0].reshape(-1, 2)
    u, v = np.meshgrid(np.arange(wide.width), np.arange(wide.height))
    pixels = np.stack([u.ravel(), v.ravel()], axis=1)
    np.testing.assert_allclose(projected, pixels, atol=1e-3)
    pinhole = (directions @ wide.k.T)[:, :2]  # where the rays would be seen without the lens's distortion
    assert np.linalg.norm(pinhole - pixels, axis=1).max() > 50


def test_wide_camera_sees_the_red_sphere_through_its_lens(messages) -> None:
    sphere = demo.SPHERES[0]
    for frame in range(FRAMES):
        info = messages["/camera/wide/camera_info"][frame][1]
        assert (info.distortion_model, info.d[0]) == ("plumb_bob", -0.3)
        center = world_to_optical(np.array(sphere.center), camera_chain(messages, frame, demo.WIDE_TOPIC))
        u, v = cv2.projectPoints(center[None], np.zeros(3), np.zeros(3), info.k.reshape(3, 3), info.d)[0].reshape(2)
        msg = messages[demo.WIDE_TOPIC][frame][1]
        red, green, blue = msg.data.reshape(info.height, info.width, 3)[round(v), round(u)]
        assert red > int(green) + int(blue), f"frame {frame}"


def test_every_depth_pixel_back_projects_onto_the_scene(messages) -> None:
    for frame in range(FRAMES):
        depth = depth_pixels(messages[demo.DEPTH_TOPIC][frame][1]) / 1000.0
        k = messages["/camera/depth/camera_info"][frame][1].k.reshape(3, 3)
        rows, columns = np.nonzero(depth)
        z = depth[rows, columns]
        in_optical = np.stack([(columns - k[0, 2]) * z / k[0, 0], (rows - k[1, 2]) * z / k[1, 1], z], axis=1)
        in_world = optical_to_world(in_optical, camera_chain(messages, frame))
        assert len(z) > 0.5 * depth.size
        assert distance_to_scene(in_world).max() < 0.002, f"frame {frame}"


def test_compressed_frames_decode_to_the_colour_frames(messages) -> None:
    for (_, raw), (_, compressed) in zip(messages[demo.COLOR_TOPIC], messages[demo.COLOR_TOPIC + "/compressed"]):
        assert compressed.format == "rgb8; jpeg compressed bgr8"
        decoded = cv2.cvtColor(cv2.imdecode(compressed.data, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
        difference = np.abs(decoded.astype(int) - raw.data.reshape(HEIGHT, WIDTH, 3))
        assert difference.mean() < 4


def test_rewrites_an_earlier_demo_bag_but_no_other_folder(tmp_path: Path) -> None:
    demo.write_demo_bag(tmp_path / "bag", frames=3, width=8, height=6)
    demo.write_demo_bag(tmp_path / "bag", frames=2, width=8, height=6)
    with AnyReader([tmp_path / "bag"]) as reader:
        assert {c.topic: c.msgcount for c in reader.connections}[demo.COLOR_TOPIC] == 2
    (tmp_path / "photos").mkdir()
    (tmp_path / "photos" / "cat.jpg").write_bytes(b"")
    with pytest.raises(FileExistsError, match="photos: exists and is not a demo bag"):
        demo.write_demo_bag(tmp_path / "photos")
    assert main(["demo", "-o", str(tmp_path / "demo.rrd"), "--bag", str(tmp_path / "photos")]) == 2
    assert (tmp_path / "photos" / "cat.jpg").exists()
    # A recording of the user's, even of the demo's own topic names, is never replaced
    write_bag(tmp_path / "robot_bag", [(demo.COLOR_TOPIC, image_msg(np.zeros((6, 8, 3), np.uint8), "rgb8", 1), 1)], "mcap")
    assert main(["demo", "-o", str(tmp_path / "demo.rrd"), "--bag", str(tmp_path / "robot_bag")]) == 2
    with AnyReader([tmp_path / "robot_bag"]) as reader:
        assert [c.msgcount for c in reader.connections] == [1]


def test_demo_command_writes_a_recording_with_every_archetype(tmp_path: Path) -> None:
    rrd = tmp_path / "demo.rrd"
    assert main(["demo", "-o", str(rrd), "--bag", str(tmp_path / "bag"), "--frames", str(FRAMES)]) == 0
    table = read_recording(rrd)
    assert len(column(table, f"{demo.COLOR_TOPIC}:Image:buffer")) == FRAMES
    assert len(column(table, f"{demo.COLOR_TOPIC}/compressed:EncodedImage:blob")) == FRAMES
    assert column(table, f"{demo.DEPTH_TOPIC}:DepthImage:meter") == [[1000.0]] * FRAMES
    # Colour and (aligned) depth cameras each have their frame, their Pinhole and their image plane.
    for camera, frame, image_topic in (("color", demo.OPTICAL_FRAME, demo.COLOR_TOPIC), ("depth", demo.DEPTH_FRAME, demo.DEPTH_TOPIC)):
        (k,) = column(table, f"/camera/{camera}/camera_info:Pinhole:image_from_camera")[0]
        np.testing.assert_allclose(np.reshape(k, (3, 3)).T, demo.intrinsics(640, 480), rtol=1e-6)
        assert column(table, f"{image_topic}:CoordinateFrame:frame")[0] == [frame + "_image_plane"]
    assert len(column(table, "/tf:Transform3D:translation")) == FRAMES
    # One static row per transform (the viewer resolves one per row): colour, depth, then the wide camera.
    assert last_chunk_rows(rrd, "/tf_static") == 3
    assert column(table, "/tf_static:Transform3D:child_frame")[-1] == [demo.WIDE_FRAME]


def test_demo_registers_its_depth_and_colours_a_cloud(tmp_path: Path) -> None:
    """Its depth camera is at the colour camera's place with the same intrinsics: registration changes no pixel,
    and each point has the colour of the pixel it came from. The first depth frame comes before any CameraInfo
    (the bag has each frame's image before its CameraInfo, as drivers publish them) and gets neither."""
    rrd = tmp_path / "demo.rrd"
    assert main(["demo", "-o", str(rrd), "--bag", str(tmp_path / "bag"), "--frames", str(FRAMES)]) == 0
    table = read_recording(rrd)
    raw = [bytes(cell[0]) for cell in column(table, f"{demo.DEPTH_TOPIC}:DepthImage:buffer")]
    registered = [bytes(cell[0]) for cell in column(table, f"{demo.DEPTH_TOPIC}/registered:DepthImage:buffer")]
    assert registered == raw[1:] and len(raw) == FRAMES
    assert column(table, f"{demo.DEPTH_TOPIC}/registered:CoordinateFrame:frame")[0] == [demo.OPTICAL_FRAME + "_image_plane"]
    clouds = column(table, f"{demo.DEPTH_TOPIC}/points:Points3D:positions")
    assert len(clouds) == 2  # 8 frames at 15 Hz, 5 clouds a second: frames 0 (no CameraInfo yet), 3 and 6
    points = np.array(clouds[0], np.float64)
    rgba = np.array(column(table, f"{demo.DEPTH_TOPIC}/points:Points3D:colors")[0], np.uint32)
    rgb = np.stack([(rgba >> 24) & 255, (rgba >> 16) & 255, (rgba >> 8) & 255], axis=1)
    k = demo.intrinsics(640, 480)
    u = np.rint(k[0, 0] * points[:, 0] / points[:, 2] + k[0, 2]).astype(int)
    v = np.rint(k[1, 1] * points[:, 1] / points[:, 2] + k[1, 2]).astype(int)
    colour = np.asarray(column(table, f"{demo.COLOR_TOPIC}:Image:buffer")[3][0], np.uint8).reshape(480, 640, 3)
    assert 5_000 < len(points) <= 10_000 and (rgb == colour[v, u]).all()


def test_demo_rectifies_its_wide_camera(tmp_path: Path) -> None:
    """The wide camera is logged raw and rectified: the rectified image projects through P (its Pinhole), where
    the red sphere's centre is red."""
    rrd = tmp_path / "demo.rrd"
    assert main(["demo", "-o", str(rrd), "--bag", str(tmp_path / "bag"), "--frames", "2"]) == 0
    with AnyReader([tmp_path / "bag"]) as reader:
        messages = {}
        for connection, log_ns, raw in reader.messages():
            messages.setdefault(connection.topic, []).append((log_ns, reader.deserialize(raw, connection.msgtype)))
    table = read_recording(rrd)
    info = messages["/camera/wide/camera_info"][1][1]
    (p,) = column(table, f"{demo.WIDE_TOPIC}/rect:Pinhole:image_from_camera")[0]
    np.testing.assert_allclose(np.reshape(p, (3, 3)).T, info.p.reshape(3, 4)[:, :3], rtol=1e-6)
    assert column(table, f"{demo.WIDE_TOPIC}/rect:Pinhole:child_frame")[0] == [demo.WIDE_FRAME + "_rect_image_plane"]
    assert len(column(table, f"{demo.WIDE_TOPIC}:Image:buffer")) == 2  # the raw frames beside
    (rectified,) = column(table, f"{demo.WIDE_TOPIC}/rect:Image:buffer")  # frame 0 came before its CameraInfo
    rectified = np.asarray(rectified[0], np.uint8).reshape(info.height, info.width, 3)
    center = world_to_optical(np.array(demo.SPHERES[0].center), camera_chain(messages, 1, demo.WIDE_TOPIC))
    u, v, _ = info.p.reshape(3, 4)[:, :3] @ center / center[2]
    red, green, blue = rectified[round(v), round(u)]
    assert red > int(green) + int(blue)


def test_demo_interrupted_exits_130_and_keeps_its_recording(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Ctrl-C in the demo's replay ends it as it ends `replay`: status 130, the recording complete and readable."""
    from bridge import replay as replay_module

    converted = replay_module.replay

    def interrupted(*args, **kwargs):
        converted(*args, **kwargs)
        raise KeyboardInterrupt  # as the last frame is logged

    monkeypatch.setattr(replay_module, "replay", interrupted)
    output = tmp_path / "demo.rrd"
    assert main(["demo", "--frames", "3", "-o", str(output), "--bag", str(tmp_path / "bag")]) == 130
    assert len(column(read_recording(output), f"{demo.COLOR_TOPIC}:Image:buffer")) == 3
