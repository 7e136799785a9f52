"""A synthetic RGB-D camera orbiting a small room, written as a real rosbag2 (mcap) bag.

The frames are ray cast with NumPy from the exact pose and intrinsics that the
bag publishes (TF and CameraInfo), so the depth projects back onto the scene in
3D: the demo shows whether the bridge gets the geometry right, not only the
pixels. Colour and depth come from one camera, an aligned pair as a RealSense
publishes with `align_depth`. Beside it, a wide-angle camera with strong barrel
distortion (plumb_bob) is ray cast through its lens model, pixel by pixel, as a
real one would see the room: the bridge rectifies it.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Iterator, Protocol, Sequence

import cv2
import numpy as np
import yaml
from rosbags.interfaces import Qos, QosDurability, QosHistory, QosLiveliness, QosReliability, QosTime
from rosbags.rosbag2 import StoragePlugin, Writer
from rosbags.typesys import Stores, get_typestore

if TYPE_CHECKING:
    from .config import TopicConfig

TYPESTORE = get_typestore(Stores.ROS2_HUMBLE)
T = TYPESTORE.types

FRAME_RATE = 15.0  # Hz
START_NS = 1_700_000_000 * 1_000_000_000  # stamp of the first frame (2023-11-14)
WORLD_FRAME = "world"
BODY_FRAME = "camera_link"  # REP 103: x forward, y left, z up
OPTICAL_FRAME = "camera_color_optical_frame"  # REP 103: x right, y down, z forward
DEPTH_FRAME = "camera_depth_optical_frame"  # the depth camera's own, at the colour camera's place (aligned depth)
WIDE_FRAME = "camera_wide_optical_frame"  # the wide-angle camera's, beside the colour camera
WIDE_OFFSET = (0.0, 0.06, 0.0)  # in camera_link: 6 cm to the left of the colour camera
OPTICAL_ROTATION = (-0.5, 0.5, -0.5, 0.5)  # camera_link -> optical frame, (x, y, z, w)

COLOR_TOPIC = "/camera/color/image_raw"
DEPTH_TOPIC = "/camera/depth/image_rect_raw"
WIDE_TOPIC = "/camera/wide/image_raw"
TOPICS = {
    "/tf_static": "tf2_msgs/msg/TFMessage",
    "/tf": "tf2_msgs/msg/TFMessage",
    COLOR_TOPIC: "sensor_msgs/msg/Image",
    COLOR_TOPIC + "/compressed": "sensor_msgs/msg/CompressedImage",
    "/camera/color/camera_info": "sensor_msgs/msg/CameraInfo",
    DEPTH_TOPIC: "sensor_msgs/msg/Image",
    "/camera/depth/camera_info": "sensor_msgs/msg/CameraInfo",
    WIDE_TOPIC: "sensor_msgs/msg/Image",
    "/camera/wide/camera_info": "sensor_msgs/msg/CameraInfo",
}

# tf2 listeners only receive /tf_static from a transient-local publisher, so `ros2 bag play` must offer that.
_NO_TIME = QosTime(0, 0)
STATIC_TF_QOS = Qos(QosHistory.KEEP_LAST, 1, QosReliability.RELIABLE, QosDurability.TRANSIENT_LOCAL,
                    _NO_TIME, _NO_TIME, QosLiveliness.AUTOMATIC, _NO_TIME, False)  # fmt: skip


# -- scene --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rays:
    """Rays origin + t * direction, one column per pixel (axis-major, so that each axis is one fast row)."""

    origin: np.ndarray  # (3,)
    directions: np.ndarray  # (3, N)
    inverse: np.ndarray  # (3, N): 1 / directions, inf where 0 (for the slab test)
    squared_length: np.ndarray  # (N,)

    @staticmethod
    def through(origin: np.ndarray, directions: np.ndarray) -> Rays:
        with np.errstate(divide="ignore"):
            inverse = 1 / directions
        return Rays(origin.astype(np.float32), directions, inverse, np.einsum("ij,ij->j", directions, directions))


def _dot(vector: np.ndarray, columns: np.ndarray) -> np.ndarray:
    """vector . column for each column of a (3, N) array; three multiply-adds beat a threaded BLAS call here."""
    return vector[0] * columns[0] + vector[1] * columns[1] + vector[2] * columns[2]


class Shape(Protocol):
    color: tuple[float, float, float]  # RGB albedo in [0, 1]

    def intersect(self, rays: Rays) -> np.ndarray:
        """Ray parameter t of the first hit in front of the origin, inf where none."""


@dataclass(frozen=True)
class Sphere:
    center: tuple[float, float, float]
    radius: float
    color: tuple[float, float, float]

    def intersect(self, rays: Rays) -> np.ndarray:
        offset = rays.origin - np.asarray(self.center, np.float32)
        half_b = _dot(offset, rays.directions)
        discriminant = half_b**2 - rays.squared_length * (offset @ offset - self.radius**2)
        with np.errstate(invalid="ignore"):
            t = (-half_b - np.sqrt(discriminant)) / rays.squared_length
        return np.where(t > 0, t, np.inf)  # NaN (missed) compares False


@dataclass(frozen=True)
class Box:
    """Axis-aligned."""

    low: tuple[float, float, float]
    high: tuple[float, float, float]
    color: tuple[float, float, float]

    def intersect(self, rays: Rays) -> np.ndarray:
        """The slab test: inside all three slabs between entering the last and leaving the first."""
        enter, leave = np.float32(-np.inf), np.float32(np.inf)
        for axis in range(3):
            to_low = (self.low[axis] - rays.origin[axis]) * rays.inverse[axis]
            to_high = (self.high[axis] - rays.origin[axis]) * rays.inverse[axis]
            enter = np.maximum(enter, np.minimum(to_low, to_high))
            leave = np.minimum(leave, np.maximum(to_low, to_high))
        return np.where((enter <= leave) & (enter > 0), enter, np.inf)


@dataclass(frozen=True)
class Rectangle:
    """Axis-aligned and flat (low == high along one axis): the floor and the walls."""

    low: tuple[float, float, float]
    high: tuple[float, float, float]
    color: tuple[float, float, float]

    def intersect(self, rays: Rays) -> np.ndarray:
        flat = next(axis for axis in range(3) if self.low[axis] == self.high[axis])
        with np.errstate(invalid="ignore"):  # rays parallel to the plane give NaN, which compares False
            t = (self.low[flat] - rays.origin[flat]) * rays.inverse[flat]
            inside = t > 0
            for axis in {0, 1, 2} - {flat}:
                along = rays.origin[axis] + t * rays.directions[axis]
                inside &= (along >= self.low[axis]) & (along <= self.high[axis])
        return np.where(inside, t, np.inf)


ROOM = 3.0  # half the side of the square room, metres
WALL_HEIGHT = 2.4
FLOOR = Rectangle((-ROOM, -ROOM, 0.0), (ROOM, ROOM, 0.0), (0.9, 0.88, 0.82))
CHECKER = 0.5  # side of the floor's squares, metres
SPHERES = (
    Sphere((0.0, 0.0, 0.35), 0.35, (0.85, 0.2, 0.15)),
    Sphere((1.0, 0.6, 0.2), 0.2, (0.2, 0.45, 0.9)),
    Sphere((-0.7, 0.9, 0.25), 0.25, (0.95, 0.8, 0.2)),
)
SCENE: tuple[Shape, ...] = SPHERES + (
    Box((0.6, -1.1, 0.0), (1.1, -0.6, 0.5), (0.25, 0.7, 0.3)),
    Box((-1.2, -0.5, 0.0), (-0.8, 0.1, 0.3), (0.7, 0.35, 0.8)),
    FLOOR,
    Rectangle((ROOM, -ROOM, 0.0), (ROOM, ROOM, WALL_HEIGHT), (0.75, 0.8, 0.9)),
    Rectangle((-ROOM, -ROOM, 0.0), (-ROOM, ROOM, WALL_HEIGHT), (0.9, 0.8, 0.7)),
    Rectangle((-ROOM, ROOM, 0.0), (ROOM, ROOM, WALL_HEIGHT), (0.8, 0.9, 0.78)),
)  # the side at y = -ROOM is open: rays through it hit nothing, so the depth has invalid (0) pixels
SKY = (0.55, 0.65, 0.8)
COLORS = np.array([shape.color for shape in SCENE] + [SKY], np.float32)  # by index of the shape hit, -1: sky
LIGHT = np.array([0.5, -0.5, 2.2], np.float32)  # a point light under the (absent) ceiling


# -- camera -------------------------------------------------------------------------------------


def intrinsics(width: int, height: int) -> np.ndarray:
    """K of a RealSense-like colour camera (about 70 degrees across), square pixels."""
    focal = 0.96 * width
    return np.array([[focal, 0.0, width / 2], [0.0, focal, height / 2], [0.0, 0.0, 1.0]])


LOOK_AT = np.array([0.15, 0.1, 0.4])  # off the red sphere's centre, so that it does not stay in mid-image


def camera_position(time_s: float) -> np.ndarray:
    """A slow orbit around the objects, bobbing up and down."""
    angle = -0.9 + 0.4 * time_s
    return np.array([2.6 * np.cos(angle), 2.6 * np.sin(angle), 1.5 + 0.15 * np.sin(1.3 * time_s)])


def look_at(eye: np.ndarray, target: np.ndarray) -> tuple[float, float, float, float]:
    """The rotation (x, y, z, w) of a level camera_link at `eye` whose x axis points at `target`: yaw, then pitch."""
    forward = (target - eye) / np.linalg.norm(target - eye)
    yaw = np.arctan2(forward[1], forward[0])
    pitch = -np.arcsin(forward[2])  # positive about y (left) tilts x down
    sy, cy, sp, cp = np.sin(yaw / 2), np.cos(yaw / 2), np.sin(pitch / 2), np.cos(pitch / 2)
    return (-sy * sp, cy * sp, sy * cp, cy * cp)


def rotation_matrix(quaternion: tuple[float, float, float, float]) -> np.ndarray:
    """The 3x3 matrix of a unit quaternion (x, y, z, w)."""
    x, y, z, w = quaternion
    return np.array([
        [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
        [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
        [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
    ])  # fmt: skip


def camera_rays(eye: np.ndarray, world_from_optical: np.ndarray, k: np.ndarray, width: int, height: int) -> Rays:
    """The rays through the pixel centres (row-major), scaled to optical z = 1 so that t is the depth.

    As in ROS (image_geometry, depth_image_proc), pixel (u, v) is centred on the integer coordinates.
    """
    m = (world_from_optical @ np.linalg.inv(k)).astype(np.float32)[:, :, None, None]  # pixel -> world direction
    u, v = np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32)[:, None]
    return Rays.through(eye, (m[:, 0] * u + m[:, 1] * v + m[:, 2]).reshape(3, -1))


NEWTON_STEPS = 6  # undistorting the wide camera's pixels: within 1e-4 px of its model at the corners


@dataclass(frozen=True)
class WideCamera:
    """A wide-angle camera (about 110 degrees across) with a strong barrel distortion, as a plumb_bob CameraInfo
    gives it: K and D of the raw image, P of its rectification (OpenCV's, keeping only pixels the lens sees)."""

    width: int
    height: int
    k: np.ndarray
    d: np.ndarray
    p: np.ndarray  # 3x4

    @staticmethod
    def of_size(width: int, height: int) -> WideCamera:
        focal = 0.5 * width
        k = np.array([[focal, 0.0, (width - 1) / 2], [0.0, focal, (height - 1) / 2], [0.0, 0.0, 1.0]])
        d = np.array([-0.3, 0.08, 0.0, 0.0, 0.0])
        # OpenCV's rectified camera that sees only what the lens sees (alpha 0, as ROS's camera_calibration
        # gives by default), with square pixels: the larger of its two focal lengths for both.
        rectified, _ = cv2.getOptimalNewCameraMatrix(k, d, (width, height), 0.0)
        rectified[0, 0] = rectified[1, 1] = max(rectified[0, 0], rectified[1, 1])
        return WideCamera(width, height, k, d, np.hstack([rectified, np.zeros((3, 1))]))

    def directions(self) -> np.ndarray:
        """(3, N) the optical-frame direction (z = 1) each raw pixel sees through the lens, row-major.

        D is radial only (k1, k2), so undistorting is solving r (1 + k1 r^2 + k2 r^4) = r_d for the
        undistorted radius r of each pixel: a few Newton steps (the polynomial rises monotonically here).
        """
        u, v = np.meshgrid(np.arange(self.width, dtype=np.float64), np.arange(self.height, dtype=np.float64))
        x_d = (u.ravel() - self.k[0, 2]) / self.k[0, 0]
        y_d = (v.ravel() - self.k[1, 2]) / self.k[1, 1]
        r_d = np.hypot(x_d, y_d)
        k1, k2 = self.d[:2]
        r = r_d.copy()
        for _ in range(NEWTON_STEPS):
            r2 = r * r
            r -= (r * (1 + r2 * (k1 + k2 * r2)) - r_d) / (1 + r2 * (3 * k1 + 5 * k2 * r2))
        scale = np.divide(r, r_d, out=np.ones_like(r), where=r_d > 0)
        return np.stack([x_d * scale, y_d * scale, np.ones_like(r)]).astype(np.float32)


def lens_rays(eye: np.ndarray, world_from_optical: np.ndarray, directions: np.ndarray) -> Rays:
    """The rays of a camera at `eye` whose pixels look along `directions` (optical frame, z = 1)."""
    m = world_from_optical.astype(np.float32)
    return Rays.through(eye, m[:, 0, None] * directions[0] + m[:, 1, None] * directions[1] + m[:, 2, None] * directions[2])


# -- rendering ----------------------------------------------------------------------------------


def render(rays: Rays, width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    """The rgb8 image and 16UC1 depth (mm, 0 = nothing hit) along the rays of a camera's pixels."""
    nearest, hit = _cast(rays)
    seen = hit >= 0
    depth_mm = np.where(seen, np.rint(nearest * 1000), 0).astype(np.uint16)  # the room is far smaller than 65 m
    points = (rays.origin[:, None] + np.where(seen, nearest, 0) * rays.directions).reshape(3, height, width)
    light = 0.3 + 0.9 * _lambert(points).reshape(-1)
    brightness = np.where(seen, light * _checker(hit, points), 1.0) * 255
    rgb = np.minimum(np.take(COLORS, hit, axis=0) * brightness[:, None], 255).astype(np.uint8)  # COLORS[-1]: sky
    return rgb.reshape(height, width, 3), depth_mm.reshape(height, width)


def _cast(rays: Rays) -> tuple[np.ndarray, np.ndarray]:
    """Per ray, the t of the nearest hit and the index of the shape hit in SCENE (-1: none)."""
    nearest = np.full(rays.directions.shape[1], np.inf, np.float32)
    hit = np.full(nearest.shape, -1, np.int8)
    for index, shape in enumerate(SCENE):
        t = shape.intersect(rays)
        hit = np.where(t < nearest, np.int8(index), hit)
        nearest = np.minimum(t, nearest)
    return nearest, hit


def _lambert(points: np.ndarray) -> np.ndarray:
    """Diffuse light from a point light that fades with distance, (H, W).

    The surface normal is the cross product of the steps to the next pixel right and down (forward
    differences of the image of 3D points (3, H, W)): wrong only along edges, where it draws an outline.
    """
    corner = points[:, :-1, :-1]
    right, down = points[:, :-1, 1:] - corner, points[:, 1:, :-1] - corner
    normal = np.stack([down[1] * right[2] - down[2] * right[1],
                       down[2] * right[0] - down[0] * right[2],
                       down[0] * right[1] - down[1] * right[0]])  # fmt: skip
    to_light = LIGHT[:, None, None] - corner
    distance = np.sqrt(np.einsum("ijk,ijk->jk", to_light, to_light))
    length = np.maximum(np.sqrt(np.einsum("ijk,ijk->jk", normal, normal)), 1e-12)
    light = np.clip(np.einsum("ijk,ijk->jk", normal, to_light) / (length * distance), 0.0, None) * 2.7 / (1.0 + distance)
    return np.pad(light, ((0, 1), (0, 1)), mode="edge")


def _checker(hit: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Albedo factor that darkens every other square of the floor."""
    squares = np.floor(points[0] * (1 / CHECKER)) + np.floor(points[1] * (1 / CHECKER))
    dark = (hit == SCENE.index(FLOOR)) & (squares.reshape(-1).astype(np.int32) % 2 == 1)
    return np.where(dark, np.float32(0.6), np.float32(1.0))


# -- messages -----------------------------------------------------------------------------------


def _header(ns: int, frame_id: str):
    stamp = T["builtin_interfaces/msg/Time"](sec=ns // 1_000_000_000, nanosec=ns % 1_000_000_000)
    return T["std_msgs/msg/Header"](stamp=stamp, frame_id=frame_id)


def _tf(ns: int, parent: str, children: Sequence[str], translation: Sequence[float], rotation: Sequence[float]):
    """One TFMessage placing each of `children` at the same pose in `parent`."""
    transform = T["geometry_msgs/msg/Transform"](
        translation=T["geometry_msgs/msg/Vector3"](x=translation[0], y=translation[1], z=translation[2]),
        rotation=T["geometry_msgs/msg/Quaternion"](x=rotation[0], y=rotation[1], z=rotation[2], w=rotation[3]),
    )
    return T["tf2_msgs/msg/TFMessage"](transforms=[
        T["geometry_msgs/msg/TransformStamped"](header=_header(ns, parent), child_frame_id=child, transform=transform)
        for child in children
    ])  # fmt: skip


def _image(ns: int, pixels: np.ndarray, encoding: str, frame_id: str):
    height, width = pixels.shape[:2]
    return T["sensor_msgs/msg/Image"](
        header=_header(ns, frame_id), height=height, width=width, encoding=encoding, is_bigendian=0,
        step=pixels.nbytes // height, data=pixels.reshape(-1).view(np.uint8),
    )  # fmt: skip


def _jpeg(ns: int, rgb: np.ndarray):
    ok, data = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    if not ok:
        raise RuntimeError("OpenCV could not encode the demo frame as JPEG")
    return T["sensor_msgs/msg/CompressedImage"](header=_header(ns, OPTICAL_FRAME), format="rgb8; jpeg compressed bgr8",
                                                data=data.reshape(-1))  # fmt: skip


def _camera_info(ns: int, k: np.ndarray, width: int, height: int, frame_id: str, d: np.ndarray | None = None,
                 p: np.ndarray | None = None):  # fmt: skip
    """A CameraInfo; without `d` and `p` an undistorted camera (P = [K | 0])."""
    return T["sensor_msgs/msg/CameraInfo"](
        header=_header(ns, frame_id), height=height, width=width, distortion_model="plumb_bob",
        d=np.zeros(5) if d is None else d, k=k.ravel(), r=np.eye(3).ravel(),
        p=(np.hstack([k, np.zeros((3, 1))]) if p is None else p).ravel(), binning_x=0, binning_y=0,
        roi=T["sensor_msgs/msg/RegionOfInterest"](x_offset=0, y_offset=0, height=0, width=0, do_rectify=False),
    )  # fmt: skip


def demo_messages(frames: int, width: int, height: int) -> Iterator[tuple[str, object, int]]:
    """(topic, message, stamp ns) in time order: the static TF, then per frame the pose, images and CameraInfo."""
    k = intrinsics(width, height)
    optical = rotation_matrix(OPTICAL_ROTATION)
    wide = WideCamera.of_size(max(2, width // 2), max(2, height // 2))  # half the size: the demo starts faster
    wide_directions = wide.directions()
    static = _tf(START_NS, BODY_FRAME, (OPTICAL_FRAME, DEPTH_FRAME), (0.0, 0.0, 0.0), OPTICAL_ROTATION)
    static.transforms += _tf(START_NS, BODY_FRAME, (WIDE_FRAME,), WIDE_OFFSET, OPTICAL_ROTATION).transforms
    yield "/tf_static", static, START_NS
    for i in range(frames):
        ns = START_NS + round(i * 1e9 / FRAME_RATE)
        eye = camera_position(i / FRAME_RATE)
        rotation = look_at(eye, LOOK_AT)
        world_from_link = rotation_matrix(rotation)
        rgb, depth_mm = render(camera_rays(eye, world_from_link @ optical, k, width, height), width, height)
        yield "/tf", _tf(ns, WORLD_FRAME, (BODY_FRAME,), eye, rotation), ns
        yield COLOR_TOPIC, _image(ns, rgb, "rgb8", OPTICAL_FRAME), ns
        yield COLOR_TOPIC + "/compressed", _jpeg(ns, rgb), ns
        yield "/camera/color/camera_info", _camera_info(ns, k, width, height, OPTICAL_FRAME), ns
        yield DEPTH_TOPIC, _image(ns, depth_mm, "16UC1", DEPTH_FRAME), ns
        yield "/camera/depth/camera_info", _camera_info(ns, k, width, height, DEPTH_FRAME), ns
        wide_eye = eye + world_from_link @ np.asarray(WIDE_OFFSET)
        wide_rgb, _ = render(lens_rays(wide_eye, world_from_link @ optical, wide_directions), wide.width, wide.height)
        yield WIDE_TOPIC, _image(ns, wide_rgb, "rgb8", WIDE_FRAME), ns
        yield "/camera/wide/camera_info", _camera_info(ns, wide.k, wide.width, wide.height, WIDE_FRAME, wide.d, wide.p), ns


def demo_topics() -> dict[str, TopicConfig]:
    """How the demo command bridges the bag: everything by default, the depth also registered into the colour
    camera and made into a cloud in the colour camera's colours (a few clouds a second, to keep the file small),
    and the wide-angle camera also rectified (beside its raw frames)."""
    from .config import TopicConfig
    from .conversion.options import PointCloudOptions, RectifyOptions, RegisterOptions

    return {DEPTH_TOPIC: TopicConfig(register=RegisterOptions(COLOR_TOPIC),
                                     point_cloud=PointCloudOptions(COLOR_TOPIC, max_points=10_000, max_rate=5.0)),
            WIDE_TOPIC: TopicConfig(rectify=RectifyOptions())}  # fmt: skip


def write_demo_bag(path: Path, frames: int = 60, width: int = 640, height: int = 480) -> Path:
    """Write the demo sequence as an mcap rosbag2 folder at `path`, replacing an earlier demo bag there."""
    if frames < 1 or width < 2 or height < 2:
        raise ValueError(f"the demo needs at least 1 frame of 2x2 pixels, not {frames} of {width}x{height}")
    return write_messages(path, demo_messages(frames, width, height))


DEMO_MARK = ("ros2_rerun_bridge", "demo")  # in the bag's metadata (custom_data): what the demo may replace


def _is_demo_bag(path: Path) -> bool:
    """Whether `path` is a bag the demo wrote (its metadata says so), so that replacing it loses no recording."""
    try:
        info = yaml.safe_load((path / "metadata.yaml").read_text())["rosbag2_bagfile_information"]
        return (info.get("custom_data") or {}).get(DEMO_MARK[0]) == DEMO_MARK[1]
    except (OSError, yaml.YAMLError, KeyError, TypeError, AttributeError):
        return False


def write_messages(path: Path, messages: Iterable[tuple[str, object, int]]) -> Path:
    """Write (topic, message, stamp ns) of the demo's topics as an mcap rosbag2 folder at `path`, replacing an
    earlier bag there (the benches write variants of the demo sequence with it)."""
    path = Path(path)
    if path.exists():
        if not _is_demo_bag(path):
            raise FileExistsError(f"{path}: exists and is not a demo bag (a rosbag2 folder of the demo's topics only); "
                                  "not overwriting it")  # fmt: skip
        shutil.rmtree(path)
    with Writer(path, version=8, storage_plugin=StoragePlugin.MCAP) as writer:
        writer.set_custom_data(*DEMO_MARK)
        connections = {
            topic: writer.add_connection(topic, msgtype, typestore=TYPESTORE,
                                         offered_qos_profiles=[STATIC_TF_QOS] if topic == "/tf_static" else ())
            for topic, msgtype in TOPICS.items()
        }  # fmt: skip
        for topic, msg, ns in messages:
            writer.write(connections[topic], ns, TYPESTORE.serialize_cdr(msg, TOPICS[topic]))
    return path
