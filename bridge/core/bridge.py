"""`Bridge`: one message in, Rerun rows out. Shared by replay, live DDS and the ROS 2 node."""

from __future__ import annotations

import functools
import logging
import re
import threading
from collections import defaultdict
from typing import TYPE_CHECKING, Any, Callable

import numpy as np
import rerun as rr

from ..config import COMPRESSED_VIDEO_TYPE, FFMPEG_PACKET_TYPE, IMAGE_TYPE, VIDEO_TYPES, BridgeConfig, TopicKind, image_topic
from ..conversion import (
    ConversionError,
    convert_compressed_image,
    convert_image,
    pinhole_from_camera_info,
    stamp_ns,
    transform_columns,
    transforms_by_stamp,
)
from ..conversion.transforms import closes_cycle
from ..conversion.camera_info import image_plane_frame
from ..conversion.compressed import decoded_frame
from ..conversion.image import RawFrame, video_frame
from ..conversion.rectify import Calibration, RectifyMaps
from ..conversion.rectify import rectify_compressed as _rectify_compressed
from ..conversion.rectify import rectify_decoded_frame as _rectify_decoded_frame
from ..conversion.rectify import rectify_image as _rectify_image
from ..conversion.rectify import rectify_video_frame as _rectify_video_frame
from ..conversion.video import codec_from_format, video_sample
from ..streams import Row, VideoStream
from ..streams.rectify import Rectifier, rect_image_plane_frame
from ..streams.rgbd import Output
from .geometry import Geometry
from .routes import Route, RouteError, plan_route
from .stats import TopicStats

if TYPE_CHECKING:  # the core logs to whatever sinks it is given; it does not depend on them
    from ..sinks.recording import Recording

log = logging.getLogger("ros2_rerun_bridge")

_NUMBERS = re.compile(r"[-+]?\d+(?:\.\d+)?(?:e[-+]?\d+)?")
STAMP_TIMELINE = "ros2_timestamp"  # header.stamp, as Rerun's MCAP importer names it
LOG_TIMELINE = "message_log_time"  # when the message was recorded (bag) or received (live)

Deserialize = Callable[[bytes | memoryview, str], Any]

# Rerun's sinks queue without bound: draining them after every so many bytes (`Recording.drain`) keeps
# memory bounded (two such backlogs at most) when input outpaces the file, and costs nothing when it does
# not. Live queues meanwhile drop their oldest frames, as they should.
DRAIN_EVERY_BYTES = 32 * 1024 * 1024

VIDEO_NOT_RECTIFIED = "not rectified: video passed through (H.264, H.265, AV1) is not decoded here"

# Frames of a topic to rectify that may come before its CameraInfo (in a bag it often comes just after) before
# the missing calibration is warned about.
NO_CALIBRATION_WARNING = 10

class Bridge:
    """Converts messages of the configured topics and logs them to a recording.

    Never raises for bad input: a message that cannot be converted is counted
    and warned about once per topic and problem, and everything else goes on.
    `handle` may be called from several threads, one topic per thread.
    """

    def __init__(self, config: BridgeConfig, recording: Recording):
        self.config = config
        self.recording = recording
        self.stats: dict[str, TopicStats] = defaultdict(TopicStats)
        self._routes: dict[tuple[str, str], Route | None] = {}
        self._warned: set[tuple[str, str]] = set()
        self._lock = threading.Lock()
        self._static_tf: dict[str, dict[str, Any]] = defaultdict(dict)  # topic -> child frame -> latest static transform
        self._tf_parents: dict[str, str] = {}  # child frame -> parent frame, of every transform logged
        self._pinhole_owners: dict[str, tuple[str, Any]] = {}  # camera frame -> (CameraInfo topic, its latest Pinhole)
        self._undrained = 0  # bytes logged since the sinks were last drained
        self._streams: dict[str, tuple[str, VideoStream]] = {}  # entity -> (topic, its video: the topic's or its rectified frames')
        self._calibrations: dict[str, tuple[str, Calibration]] = {}  # CameraInfo topic -> (frame, its latest)
        self._rectifiers: dict[str, Rectifier] = {}  # image topic -> its rectification stage
        self._distortion_logged: dict[str, tuple] = {}  # CameraInfo topic -> (model, D) last logged on its entity
        self._geometry = Geometry(config, self._calibration_entry, self.warn_once)  # TF; registration, coloured clouds

    def route(self, topic: str, msgtype: str) -> Route | None:
        """The topic's route (cached); None when it is not bridged."""
        key = (topic, msgtype)
        if key not in self._routes:
            try:
                self._routes[key] = plan_route(self.config, topic, msgtype)
            except RouteError as err:
                self.warn_once(topic, str(err))
                self._routes[key] = None
        return self._routes[key]

    def decode(self, route: Route, raw: bytes | memoryview, deserialize: Deserialize) -> Any | None:
        """Deserialize one CDR message; None (counted and warned) when it is garbled."""
        try:
            # A memoryview: rosbags slices off the CDR header, which would copy a whole frame held as bytes.
            return deserialize(memoryview(raw), route.msgtype)
        except Exception as err:  # rosbags raises many types for truncated or garbled CDR
            self.stats[route.topic].failed += 1
            self.warn_once(route.topic, f"cannot deserialize {route.msgtype}: {type(err).__name__}: {err}")
            return None

    def handle_cdr(self, route: Route, raw: bytes | memoryview, deserialize: Deserialize, log_time_ns: int) -> bool:
        """Deserialize and `handle` one CDR message."""
        msg = self.decode(route, raw, deserialize)
        if msg is None:
            self.stats[route.topic].received += 1
            return False
        return self.handle(route, msg, log_time_ns, nbytes=len(raw))

    def handle(self, route: Route, msg: Any, log_time_ns: int, nbytes: int = 0, counted: bool = False) -> bool:
        """Convert and log one message; True when it reached the recording.

        `counted` says the transport already counted it as received (live queues do).
        """
        stats = self.stats[route.topic]
        if not counted:
            stats.received += 1
        max_rate = route.options.max_rate
        if max_rate and stats.last_ns is not None and log_time_ns - stats.last_ns < 1e9 / max_rate:
            stats.skipped += 1
            return False
        try:
            logged = self._log(route, msg, log_time_ns)
        except ConversionError as err:
            stats.failed += 1
            self.warn_once(route.topic, str(err))
            return False
        if not logged:
            stats.skipped += 1
            return False
        stats.logged += 1
        if stats.first_ns is None:
            stats.first_ns = log_time_ns
        stats.last_ns = log_time_ns
        self._bound_sink_backlog(nbytes)
        return True

    def _bound_sink_backlog(self, nbytes: int) -> None:
        with self._lock:
            self._undrained += nbytes
            if self._undrained < DRAIN_EVERY_BYTES:
                return
            self._undrained = 0
        self.recording.drain()

    def warn_once(self, topic: str, problem: str) -> None:
        """Warn about a topic's problem the first time this kind of problem is seen on it.

        Problems of one kind differ only in their numbers (sizes, lengths, values): the first
        example's are shown, and the others count in the summary.
        """
        with self._lock:
            self._warn_unlocked(topic, problem)

    def _warn_unlocked(self, topic: str, problem: str) -> None:
        kind = _NUMBERS.sub("#", problem)
        if (topic, kind) not in self._warned:
            self._warned.add((topic, kind))
            log.warning("%s: %s", topic, problem)

    def close(self) -> None:
        """Log what the video encoders and the RGB-D stages still hold; call before the recording closes."""
        self._log_outputs(self._geometry.flush())
        for entity, (topic, stream) in list(self._streams.items()):
            try:
                self._log_rows(entity, stream.flush(), [])  # the image plane: as the stream's last row logged it
            except ConversionError as err:
                self.warn_once(topic, str(err))

    @property
    def logged_anything(self) -> bool:
        return any(stats.logged for stats in self.stats.values())

    def summary(self) -> list[str]:
        return [self.stats[topic].line(topic) for topic in sorted(self.stats)] + self._geometry.lines()

    # -- logging ------------------------------------------------------------------------------

    def _log(self, route: Route, msg: Any, log_time_ns: int) -> bool:
        """Log one message's rows; False when it adds nothing (see `_owns_pinhole`)."""
        if route.kind is TopicKind.TF:
            self._log_tf(route, msg, log_time_ns)
            return True
        # foxglove's CompressedVideo has its stamp and frame beside the data, not in a header
        header = msg if route.msgtype == COMPRESSED_VIDEO_TYPE else msg.header
        times = _times(stamp_ns(header.timestamp if header is msg else header.stamp), log_time_ns)
        frame_id = route.frame(route.options.frame_id or header.frame_id)
        if route.carries_images:
            self._log_outputs(self._geometry.image(route, msg, frame_id, times[STAMP_TIMELINE], times))
        if route.kind is TopicKind.CAMERA_INFO:
            distortion = self._note_calibration(route, frame_id, msg)  # before the Pinhole: rectify says what is wrong
            pinhole = pinhole_from_camera_info(msg, frame_id, route.options.intrinsics)
            if not self._owns_pinhole(route, frame_id, pinhole):  # only a calibration that converts claims its frame
                return False
            self.recording.log(route.entity_path, pinhole, *distortion[1:], times=times)
            self._distortion_logged[route.topic] = distortion[0]
            return True
        limit = {"max_pixels": route.options.max_pixels} if route.options.max_pixels else {}
        if (samples := self._passed_through(route, msg, times)) is not None:
            self._rectify_unsupported(route)
            self._log_rows(route.entity_path, samples, self._image_frame(route, frame_id))
            return bool(samples)  # a sample before the first keyframe is not taken
        raw, rectify = self._image_stages(route, msg, limit)
        rectified = self._rectified(route, frame_id, rectify) if route.options.rectify else None
        if rectified is None or route.options.rectify.keep_raw:
            self._log_image(route, route.entity_path, raw(), self._image_frame(route, frame_id), times)
        if rectified is not None:
            entity, image, pinhole = rectified
            self.recording.log(entity, pinhole, times=times)  # now: an encoder may hold the frame past the end
            plane = [_coordinate_frame(rect_image_plane_frame(frame_id))] if frame_id else []
            self._log_image(route, entity, image, plane, times)
        return True

    def _image_stages(self, route: Route, msg: Any, limit: dict) -> tuple[Callable[[], Any], Callable[[RectifyMaps], Any]]:
        """How an image is made ready to log: as it comes, and rectified with a calibration's maps. Either gives
        an archetype, or, for a colour topic with `video`, a frame for its encoder (see `_log_image`)."""
        as_depth, depth = route.configured_as_depth, route.options.depth
        if route.msgtype == IMAGE_TYPE:
            if route.encodes_video(msg):
                return functools.partial(video_frame, msg, **limit), functools.partial(_rectify_video_frame, msg, **limit)
            options = {"depth_compression": route.options.depth_compression, **limit}
            return (functools.partial(convert_image, msg, as_depth, depth, **options),
                    functools.partial(_rectify_image, msg, as_depth=as_depth, depth=depth, **options))  # fmt: skip
        if route.encodes_video(msg):
            return functools.partial(decoded_frame, msg, **limit), functools.partial(_rectify_decoded_frame, msg, **limit)
        return (functools.partial(convert_compressed_image, msg, as_depth, depth, **limit),
                functools.partial(_rectify_compressed, msg, as_depth=as_depth, depth=depth, **limit))  # fmt: skip

    def _log_image(self, route: Route, entity: str, image: Any, components: list[Any], times: dict[str, int]) -> None:
        """An archetype logged with `components`, or a video frame encoded into the entity's own stream (the
        encoder may hold a few frames: `components` go with each sample that comes out)."""
        if isinstance(image, RawFrame):
            self._log_rows(entity, self._stream(route, entity).encode(image, times), components)
        else:
            self.recording.log(entity, image, *components, times=times)

    def _rectify_unsupported(self, route: Route) -> None:
        """Said once when the topic's own config asks to rectify video passed through (it is not decoded here)."""
        own = self.config.topics.get(route.name)
        if own is not None and own.rectify:
            self.warn_once(route.topic, VIDEO_NOT_RECTIFIED)

    def _note_calibration(self, route: Route, frame_id: str, msg: Any) -> list[Any]:
        """Keep the topic's calibration for rectification; [(model, D), and their AnyValues when they changed]."""
        try:
            calibration = Calibration.from_camera_info(msg)
        except (TypeError, ValueError, AttributeError) as err:
            raise ConversionError(f"calibration unreadable: {err}") from None
        with self._lock:
            self._calibrations[route.topic] = (frame_id, calibration)
        distortion = (calibration.distortion_model, calibration.d)
        if self._distortion_logged.get(route.topic) == distortion:
            return [distortion]
        return [distortion, rr.AnyValues(distortion_model=distortion[0], D=np.asarray(distortion[1], np.float64))]

    def _calibration_for(self, route: Route, frame_id: str) -> Calibration | None:
        """An image topic's calibration: its sibling `camera_info` topic's (`/ns/image_raw` with `/ns/camera_info`,
        as image_transport pairs them) when there is one, else the first CameraInfo topic's of the image's frame."""
        found = self._calibration_entry(route.topic, frame_id)
        return found and found[2]

    def _calibration_entry(self, topic: str, frame_id: str) -> tuple[str, str, Calibration] | None:
        """(CameraInfo topic, its frame, its latest calibration) of an image topic, as `_calibration_for` picks it."""
        sibling = _camera_namespace(topic) + "/camera_info"
        with self._lock:
            if sibling in self._calibrations:
                return sibling, *self._calibrations[sibling]
            return next(((t, f, c) for t, (f, c) in self._calibrations.items() if frame_id and f == frame_id), None)

    def _rectified(self, route: Route, frame_id: str, rectify: Callable[[RectifyMaps], Any]) -> tuple[str, Any, Any] | None:
        """(entity, rectified image, its Pinhole) of an image on a topic to rectify; None: the raw image only."""
        calibration = self._calibration_for(route, frame_id)
        with self._lock:
            if route.topic not in self._rectifiers:
                self._rectifiers[route.topic] = Rectifier(functools.partial(self.warn_once, route.topic))
            rectifier = self._rectifiers[route.topic]
        if calibration is None:
            rectifier.waiting += 1
            if rectifier.waiting == NO_CALIBRATION_WARNING and route.name in self.config.topics:
                self.warn_once(route.topic, f"not rectified (logged raw): no CameraInfo of frame {frame_id!r} or "
                                            f"on {_camera_namespace(route.topic)}/camera_info")  # fmt: skip
            return None
        rectified = rectifier.rectify(calibration, frame_id, rectify)
        if rectified is None:
            return None
        return route.rectified_entity_path, *rectified

    def _passed_through(self, route: Route, msg: Any, times: dict[str, int]) -> list[Row] | None:
        """The rows of a video sample passed through as it came (none before the first keyframe); None for anything
        that is not encoded video."""
        if route.msgtype == IMAGE_TYPE:
            return None
        format_string = msg.encoding if route.msgtype == FFMPEG_PACKET_TYPE else msg.format
        codec = codec_from_format(format_string)
        if route.msgtype not in VIDEO_TYPES and codec is None:
            return None
        if codec is None:
            raise ConversionError(f"video format {format_string!r} is not one Rerun plays (h264, h265, av1)")
        return self._stream(route, route.entity_path).pass_through(video_sample(codec, msg.data), times)

    def _stream(self, route: Route, entity: str) -> VideoStream:
        """The video of an entity: the topic's own, or its rectified frames'."""
        with self._lock:
            if entity not in self._streams:
                warn = functools.partial(self.warn_once, route.topic)
                self._streams[entity] = (route.topic, VideoStream(warn, route.options.video))
            return self._streams[entity][1]

    def _log_outputs(self, outputs: list[Output]) -> None:
        for output in outputs:
            self.recording.log(output.entity, *output.archetypes, times=output.times)

    def _log_rows(self, entity: str, rows: list[Row], components: list[Any]) -> None:
        for row in rows:  # the codec row is static; samples sit in the image plane as images do
            self.recording.log(entity, row.archetype, *(components if row.times else []), times=row.times)

    def _owns_pinhole(self, route: Route, frame_id: str, pinhole: Any) -> bool:
        """Whether this CameraInfo topic gives the Pinhole of its frame.

        Two CameraInfo topics of one frame (a RealSense's colour and aligned-depth camera_info) would both
        define `<frame>_image_plane`, which Rerun rejects. The first topic seen keeps the frame, and the
        images of that frame project through its Pinhole. The other topic's calibration is skipped, with a
        warning only when it differs (Pinholes are cached by value: the same calibration is the same object).
        """
        if not frame_id:
            return True
        with self._lock:
            owner, latest = self._pinhole_owners.setdefault(frame_id, (route.topic, pinhole))
            if owner == route.topic:
                self._pinhole_owners[frame_id] = (owner, pinhole)
                return True
        if pinhole is not latest:
            self.warn_once(route.topic, f"not logged: frame {frame_id!r} has its Pinhole from {owner}, which differs")
        return False

    def _image_frame(self, route: Route, frame_id: str) -> list[rr.CoordinateFrame]:
        """The image plane the image lives in, logged on each image row as Rerun's importer does."""
        if not frame_id:
            self.warn_once(route.topic, "empty frame_id: not placed in 3D (set frame_id for this topic in the config)")
            return []
        return [_coordinate_frame(image_plane_frame(frame_id))]

    def _log_tf(self, route: Route, msg: Any, log_time_ns: int) -> None:
        found = transforms_by_stamp(msg)
        for reason in found.rejected:
            self.warn_once(route.topic, f"not logged: {reason}")
        groups = {stamp: kept for stamp, transforms in found.groups.items() if (kept := self._in_tree(route, transforms))}
        if not groups:
            raise ConversionError("TF message without a usable transform")
        for transforms in groups.values():
            self._geometry.tf.add(transforms, static=route.static_tf, frame=route.frame)
        if route.static_tf:
            with self._lock:
                latest = self._static_tf[route.topic]
                for transforms in groups.values():
                    latest.update((t.child_frame_id, t) for t in transforms)
                static = list(latest.values())
            # Static data is replaced as a whole: each time, every static transform of the topic seen so far.
            columns = transform_columns(static, route.frame)
            self.recording.send_columns(route.entity_path, columns, len(static), times=None)
            return
        for stamp, transforms in groups.items():
            columns = transform_columns(transforms, route.frame)
            self.recording.send_columns(route.entity_path, columns, len(transforms), _times(stamp, log_time_ns))

    def _in_tree(self, route: Route, transforms: list[Any]) -> list[Any]:
        """The transforms that keep the frames a tree, as tf2 needs; the others are warned about.

        A loop (a -> b, then b -> a) would leave every frame on it without a way to the root.
        """
        kept = []
        with self._lock:
            for transform in transforms:
                parent, child = route.frame(transform.header.frame_id), route.frame(transform.child_frame_id)
                if closes_cycle(self._tf_parents, parent, child):
                    loop = f"transform {parent} -> {child}: closes a loop ({child} is already an ancestor of {parent})"
                    self._warn_unlocked(route.topic, f"not logged: {loop}")
                    continue
                self._tf_parents[child] = parent
                kept.append(transform)
        return kept


@functools.lru_cache(maxsize=256)
def _coordinate_frame(frame: str) -> rr.CoordinateFrame:
    return rr.CoordinateFrame(frame)  # built once per frame: its Arrow conversion costs more than the logging


def _camera_namespace(topic: str) -> str:
    """Where a camera's image topics and its camera_info live (`/cam` of `/cam/image_raw` and `/cam/image_raw/compressed`)."""
    return image_topic(topic).rsplit("/", 1)[0]


def _times(stamp: int, log_time_ns: int) -> dict[str, int]:
    return {STAMP_TIMELINE: stamp, LOG_TIMELINE: log_time_ns}
