"""Rectification of raw Image topics, through the `Bridge` into a real .rrd and read back through Rerun.

Scenes are rendered through known lens models: a grid of 3D points is projected with OpenCV's own
`projectPoints` (plumb_bob, rational_polynomial) or `fisheye.projectPoints` (equidistant) through the
published image's K (ROI-shifted and binned as image_geometry does) and D, and each point is drawn as a
small Gaussian dot in the raw image. After rectification, each dot's centroid must lie where P (shifted
and binned alike) projects the point rotated by R, within 0.5 px; `cv2.undistortPoints` of the raw dots
is the cross-check that the scene was rendered as the model says.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pytest

from bridge.config import SinksConfig, parse_config
from bridge.conversion.rectify import Calibration, rectify_maps
from bridge.core import Bridge
from bridge.sinks import Recording
from recordings import T, column, header, image_msg, read_recording

CAMERA_INFO = "sensor_msgs/msg/CameraInfo"
IMAGE = "sensor_msgs/msg/Image"
FRAME = "cam_optical_frame"
SIGMA = 1.2  # of a dot, in raw pixels


def rotation(rx: float, ry: float, rz: float) -> np.ndarray:
    return cv2.Rodrigues(np.array([rx, ry, rz], np.float64))[0]


def camera_info(model: str, d, k: np.ndarray, p: np.ndarray, width: int, height: int, r=np.eye(3), binning=(0, 0),
                roi=(0, 0, 0, 0), ns: int = 0):  # fmt: skip
    return T["sensor_msgs/msg/CameraInfo"](
        header=header(ns, FRAME), height=height, width=width, distortion_model=model,
        d=np.asarray(d, np.float64), k=np.asarray(k, np.float64).ravel(), r=np.asarray(r, np.float64).ravel(),
        p=np.asarray(p, np.float64).ravel(), binning_x=binning[0], binning_y=binning[1],
        roi=T["sensor_msgs/msg/RegionOfInterest"](x_offset=roi[0], y_offset=roi[1], width=roi[2], height=roi[3],
                                                  do_rectify=bool(any(roi))),
    )  # fmt: skip


def published(matrix: np.ndarray, binning, roi) -> np.ndarray:
    """image_geometry: shift by the ROI offset, then scale by 1/binning (the 3x3 left block)."""
    m = np.array(matrix, np.float64)[:, :3].copy()
    m[0, 2] -= roi[0]
    m[1, 2] -= roi[1]
    m[0] /= binning[0] or 1
    m[1] /= binning[1] or 1
    return m


K_VGA = np.array([[420.0, 0, 318.5], [0, 415.0, 242.25], [0, 0, 1]])
P_VGA = np.array([[380.0, 0, 322.0, 0], [0, 380.0, 238.0, 0], [0, 0, 1, 0]])
K_FULL = np.array([[860.0, 0, 641.0], [0, 850.0, 478.0], [0, 0, 1]])
P_FULL = np.array([[760.0, 0, 645.0, 0], [0, 760.0, 482.0, 0], [0, 0, 1, 0]])

CASES = {  # name -> model, D, K, P, R, (width, height), binning, roi
    "plumb_bob": ("plumb_bob", [-0.32, 0.11, 0.0012, -0.0008, -0.015], K_VGA, P_VGA, np.eye(3), (640, 480), (0, 0), (0, 0, 0, 0)),
    "rational_polynomial": ("rational_polynomial", [0.9, -0.35, 0.001, -0.0005, 0.02, 1.25, -0.2, 0.05],
                            K_VGA, P_VGA, rotation(0.01, -0.02, 0.005), (640, 480), (0, 0), (0, 0, 0, 0)),  # fmt: skip
    "equidistant": ("equidistant", [0.08, -0.03, 0.01, -0.002], np.array([[300.0, 0, 321.0], [0, 300.0, 239.0], [0, 0, 1]]),
                    np.array([[240.0, 0, 320.0, 0], [0, 240.0, 240.0, 0], [0, 0, 1, 0]]), rotation(0.0, 0.03, 0.0),
                    (640, 480), (0, 0), (0, 0, 0, 0)),  # fmt: skip
    "plumb_bob_binning_roi": ("plumb_bob", [-0.3, 0.09, 0.0, 0.0, 0.0], K_FULL, P_FULL, np.eye(3), (1280, 960), (2, 2),
                              (160, 120, 960, 720)),  # fmt: skip
}


def points_3d() -> np.ndarray:
    xs, ys = np.meshgrid(np.linspace(-0.9, 0.9, 13), np.linspace(-0.7, 0.7, 11))
    return np.stack([xs.ravel(), ys.ravel(), np.full(xs.size, 1.5)], axis=1)


def project_raw(model: str, points: np.ndarray, k: np.ndarray, d) -> np.ndarray:
    zero = np.zeros(3)
    if model == "equidistant":
        raw, _ = cv2.fisheye.projectPoints(points.reshape(-1, 1, 3), zero, zero, k, np.asarray(d, np.float64))
    else:
        raw, _ = cv2.projectPoints(points, zero, zero, k, np.asarray(d, np.float64))
    return raw.reshape(-1, 2)


def render_dots(centres: np.ndarray, width: int, height: int) -> np.ndarray:
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    image = np.zeros((height, width), np.float32)
    for u, v in centres:
        x0, y0 = int(round(u)), int(round(v))
        window = (slice(max(y0 - 6, 0), y0 + 7), slice(max(x0 - 6, 0), x0 + 7))
        image[window] += np.exp(-((xs[window] - u) ** 2 + (ys[window] - v) ** 2) / (2 * SIGMA**2))
    return np.clip(image * 250, 0, 255).astype(np.uint8)


def centroid(image: np.ndarray, u: float, v: float, radius: int = 6) -> np.ndarray:
    x0, y0 = int(round(u)), int(round(v))
    patch = image[y0 - radius : y0 + radius + 1, x0 - radius : x0 + radius + 1].astype(np.float64)
    patch = np.where(patch > 10, patch, 0)  # the dot, not the ringing
    assert patch.sum() > 500, f"no dot near ({u:.1f}, {v:.1f})"
    ys, xs = np.mgrid[y0 - radius : y0 + radius + 1, x0 - radius : x0 + radius + 1]
    return np.array([(xs * patch).sum() / patch.sum(), (ys * patch).sum() / patch.sum()])


def run_bridge(path: Path, config: dict, messages: list[tuple[str, str, object]]) -> Bridge:
    config = parse_config(config).with_sinks(SinksConfig(file=path))
    bridge = Bridge(config, Recording(config.recording))
    for index, (topic, msgtype, msg) in enumerate(messages):
        bridge.handle(bridge.route(topic, msgtype), msg, 1_000 + index)
    bridge.close()
    bridge.recording.close(keep_file=True)
    return bridge


def image_cells(table, entity: str, kind: str = "Image") -> list[np.ndarray]:
    formats = column(table, f"{entity}:{kind}:format")
    buffers = column(table, f"{entity}:{kind}:buffer")
    images = []
    for fmt, buffer in zip(formats, buffers):
        fmt = fmt[0]
        data = np.asarray(buffer[0], np.uint8)
        dtype = {"U8": np.uint8, "U16": np.uint16, "F32": np.float32}[_datatype(fmt)]
        pixels = data.view(dtype).reshape(fmt["height"], fmt["width"], -1)
        images.append(pixels[..., 0] if pixels.shape[-1] == 1 else pixels)
    return images


def _datatype(fmt: dict) -> str:
    # Rerun's ChannelDatatype: U8 = 6, U16 = 8, F32 = 34
    return {6: "U8", 8: "U16", 34: "F32"}[fmt["channel_datatype"]]


@dataclass(frozen=True)
class Scene:
    """Dots rendered through a known model: where they are in the raw image, and where P puts them rectified."""

    info: object  # its CameraInfo
    size: tuple[int, int]  # the published image's (width, height)
    raw: np.ndarray  # (N, 2) dot centres in the raw image
    expected: np.ndarray  # (N, 2) where P projects them (after R)

    def assert_rectified(self, rectified: np.ndarray, tolerance: float = 0.5) -> None:
        """Each dot's centroid in the rectified image lies where P projects its point."""
        found = np.array([centroid(rectified, u, v) for u, v in self.expected])
        error = np.linalg.norm(found - self.expected, axis=1)
        assert error.max() < tolerance, (error.max(), self.expected[error.argmax()])


def scene(name: str) -> Scene:
    """The dots of case `name` that land well inside both images, checked against OpenCV's inverse model."""
    model, d, k, p, r, (width, height), binning, roi = CASES[name]
    k_pub, p_pub = published(k, binning, roi), published(p, binning, roi)
    size = (roi[2] or width) // (binning[0] or 1), (roi[3] or height) // (binning[1] or 1)
    points = points_3d()
    raw = project_raw(model, points, k_pub, d)
    rotated = points @ r.T
    expected = (rotated @ p_pub.T)[:, :2] / rotated[:, 2:]
    margin = 12
    keep = ((raw > margin) & (raw < np.array(size) - margin)).all(1) & ((expected > margin) & (expected < np.array(size) - margin)).all(1)
    assert keep.sum() >= 30, keep.sum()
    raw, expected = raw[keep], expected[keep]

    # the cross-check: OpenCV's own inverse model takes the rendered dots to where P projects them
    criteria = (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 200, 1e-10)  # the default 5 iterations are not enough
    d_array = np.asarray(d, np.float64)
    if model == "equidistant":
        back = cv2.fisheye.undistortPoints(raw.reshape(-1, 1, 2), k_pub, d_array, R=r, P=p_pub, criteria=criteria)
    else:
        back = cv2.undistortPoints(raw.reshape(-1, 1, 2), k_pub, d_array, R=r, P=p_pub, criteria=criteria)
    np.testing.assert_allclose(back.reshape(-1, 2), expected, atol=0.01)
    info = camera_info(model, d, k, p, width, height, r=r, binning=binning, roi=roi)
    return Scene(info, size, raw, expected)


@pytest.mark.parametrize("name", CASES)
def test_dots_land_where_p_projects_them(name: str, tmp_path: Path) -> None:
    model, d, k, p, r, (width, height), binning, roi = CASES[name]
    dots = scene(name)
    size, info, p_pub = dots.size, dots.info, published(p, binning, roi)
    frame = image_msg(render_dots(dots.raw, *size), "mono8", 0, FRAME)
    path = tmp_path / "r.rrd"
    bridge = run_bridge(path, {"topics": {"/cam/image_raw": {"rectify": True}}},
                        [("/cam/camera_info", CAMERA_INFO, info), ("/cam/image_raw", IMAGE, frame)])  # fmt: skip
    assert bridge.stats["/cam/image_raw"].logged == 1

    table = read_recording(path)
    (rectified,) = image_cells(table, "/cam/image_raw/rect")
    (unrectified,) = image_cells(table, "/cam/image_raw")  # kept beside it
    assert rectified.shape == unrectified.shape == (size[1], size[0])
    dots.assert_rectified(rectified)

    pinhole = np.array(column(table, "/cam/image_raw/rect:Pinhole:image_from_camera")[0][0]).reshape(3, 3).T
    np.testing.assert_allclose(pinhole, p_pub, rtol=1e-6)
    assert column(table, "/cam/image_raw/rect:Pinhole:child_frame")[0][0] == FRAME + "_rect_image_plane"
    assert column(table, "/cam/image_raw/rect:CoordinateFrame:frame")[0][0] == FRAME + "_rect_image_plane"
    assert column(table, "/cam/camera_info:distortion_model")[0][0] == model
    np.testing.assert_allclose(column(table, "/cam/camera_info:D")[0], d)


def depth_scene(dtype) -> np.ndarray:
    rng = np.random.default_rng(7)
    depth = np.full((480, 640), 2000, np.float64)
    depth[100:300, 150:400] = 800  # a box in front: sharp edges
    depth += rng.integers(0, 50, depth.shape)
    depth[200:260, 450:520] = 0  # a hole
    if dtype == np.float32:
        depth = depth / 1000
        depth[depth == 0] = np.nan
    return depth.astype(dtype)


@pytest.mark.parametrize("encoding", ["16UC1", "32FC1"])
def test_depth_is_nearest_neighbour(encoding: str, tmp_path: Path) -> None:
    dtype = np.uint16 if encoding == "16UC1" else np.float32
    model, d, k, p = CASES["plumb_bob"][:4]
    source = depth_scene(dtype)
    path = tmp_path / "d.rrd"
    run_bridge(path, {"topics": {"/depth/image_raw": {"rectify": {"entity_path": "/depth/rect", "keep_raw": False}}}},
               [("/depth/camera_info", CAMERA_INFO, camera_info(model, d, k, p, 640, 480)),
                ("/depth/image_raw", IMAGE, image_msg(source, encoding, 0, FRAME))])  # fmt: skip
    table = read_recording(path)
    assert not any(name.startswith("/depth/image_raw:") for name in table.column_names)  # instead of the raw one
    (rectified,) = image_cells(table, "/depth/rect", "DepthImage")
    valid = rectified[(rectified != 0) & np.isfinite(rectified)]
    assert valid.size > 0.8 * rectified.size
    assert np.isin(valid, source).all()  # nothing blended
    invalid = (rectified == 0) | ~np.isfinite(rectified)
    assert invalid.sum() > 50 * 50  # the hole stays a hole (and the rim that sees nothing is invalid too)
    # and where each value comes from: OpenCV's own maps, rounded
    maps = rectify_maps(Calibration.from_camera_info(camera_info(model, d, k, p, 640, 480)))
    xs, ys = np.rint(maps.map_x[240, 320]).astype(int), np.rint(maps.map_y[240, 320]).astype(int)
    assert rectified[240, 320] == source[ys, xs]


BAD = {  # name -> (model, D, K), and what the warning says
    "unknown model": ("kannala_brandt", [0.1, 0.0, 0.0, 0.0], K_VGA, "distortion model 'kannala_brandt'"),
    "NaN in D": ("plumb_bob", [-0.3, float("nan"), 0.0, 0.0, 0.0], K_VGA, "D is not finite"),
    "wrong D length": ("plumb_bob", [-0.3, 0.1, 0.0], K_VGA, "plumb_bob takes 0 or 4 or 5 distortion coefficients"),
    "K zeros": ("plumb_bob", [-0.3, 0.1, 0.0, 0.0, 0.0], np.zeros((3, 3)), "K has no positive focal length"),
}


@pytest.mark.parametrize("name", BAD)
def test_bad_calibration_warns_once_and_logs_raw(name: str, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    model, d, k, problem = BAD[name]
    pixels = np.arange(480 * 640, dtype=np.uint32).reshape(480, 640).astype(np.uint8)
    messages = []
    for index in range(3):
        messages += [("/cam/camera_info", CAMERA_INFO, camera_info(model, d, k, P_VGA, 640, 480, ns=index)),
                     ("/cam/image_raw", IMAGE, image_msg(pixels, "mono8", index, FRAME))]  # fmt: skip
    path = tmp_path / "b.rrd"
    with caplog.at_level(logging.WARNING, logger="ros2_rerun_bridge"):
        bridge = run_bridge(path, {"topics": {"/cam/image_raw": {"rectify": {"keep_raw": False}}}}, messages)
    warnings = [r.getMessage() for r in caplog.records if r.getMessage().startswith("/cam/image_raw: ")]
    assert len(warnings) == 1 and problem in warnings[0], warnings
    assert bridge.stats["/cam/image_raw"].logged == 3
    table = read_recording(path)
    raw = image_cells(table, "/cam/image_raw")
    assert len(raw) == 3 and (raw[0] == pixels).all()  # raw, although keep_raw is false: nothing is lost
    assert not any(name.startswith("/cam/image_raw/rect") for name in table.column_names)


def test_no_calibration_logs_raw(tmp_path: Path) -> None:
    pixels = np.zeros((48, 64), np.uint8)
    path = tmp_path / "n.rrd"
    bridge = run_bridge(path, {"topics": {"/cam/image_raw": {"rectify": True}}},
                        [("/cam/image_raw", IMAGE, image_msg(pixels, "mono8", i, FRAME)) for i in range(3)])  # fmt: skip
    assert bridge.stats["/cam/image_raw"].logged == 3
    assert len(image_cells(read_recording(path), "/cam/image_raw")) == 3


def test_replay_rectify_flag(tmp_path: Path) -> None:
    """`replay --rectify`: every Image topic with a CameraInfo, through a real bag and the command line."""
    from bridge.cli import main
    from recordings import write_bag

    model, d, k, p = CASES["plumb_bob"][:4]
    pixels = np.full((480, 640, 3), 128, np.uint8)
    messages = []
    for index in range(2):
        ns = (index + 1) * 100_000_000
        messages += [("/cam/camera_info", camera_info(model, d, k, p, 640, 480, ns=ns), ns),
                     ("/cam/image_raw", image_msg(pixels, "rgb8", ns, FRAME), ns),
                     ("/cam/image_rect", image_msg(pixels, "rgb8", ns, FRAME), ns)]  # fmt: skip
    bag = write_bag(tmp_path / "bag", messages)
    assert main(["replay", "--no-progress", "--rectify", str(bag), "-o", str(tmp_path / "out.rrd")]) == 0
    table = read_recording(tmp_path / "out.rrd")
    assert len(image_cells(table, "/cam/image_raw/rect")) == 2
    assert len(image_cells(table, "/cam/image_raw")) == 2
    assert not any(name.startswith("/cam/image_rect/rect") for name in table.column_names)  # already rectified
