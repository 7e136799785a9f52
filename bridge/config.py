"""The YAML configuration: one file for replay, live DDS and the ROS 2 node.

Validated completely before anything runs. The problems found are one `ConfigError`, each a line naming
the file, the key path (`topics./camera/depth.meter`) or line, and what is allowed, whatever the file
holds (binary junk, huge numbers, deep nesting, alias bombs): never another exception, in bounded time
and memory.

    recording:
      application_id: my_robot
      sinks:
        file: robot.rrd
        spawn: true
        connect: 192.168.1.20:9876    # or rerun+http://192.168.1.20:9876/proxy, or a port on 127.0.0.1
        serve: {grpc_port: 9876, web_port: 9090, bind: 0.0.0.0}
    auto: true            # also bridge unlisted camera and TF topics with defaults
    include: ['/camera/.*']
    exclude: ['.*/ir/.*']
    # namespaces: [/robot1, /robot2]   # a fleet: each topic bridged under each robot's namespace
    # shared_frames: [map]             # a fleet's frames that are not the robot's own: not prefixed
    topics:
      /camera/depth/image_rect_raw:
        entity_path: /camera/depth
        kind: depth
        meter: 1000
        colormap: turbo
        depth_range: [0.2, 5.0]   # metres
      /camera/color/image_raw/compressed:
        max_pixels: 8294400       # decode frames of up to 3840x2160; larger ones are skipped
      /camera/color/image_raw:
        video: {codec: h264, gop: 30, quality: 23, preset: veryfast}   # encoded as a VideoStream (PyAV)
      /camera/aligned_depth_to_color/image_raw:
        depth_compression: png    # 16-bit depth losslessly: png, rvl or auto (the smaller; none: raw)
      /camera/fisheye/image_raw:
        rectify: true             # also logged rectified (its CameraInfo's K, D, R, P) at /camera/fisheye/image_raw/rect
        # rectify: {entity_path: /camera/fisheye/image_rect, keep_raw: false}
      /camera/depth/image_raw:
        register: {to: /camera/color/image_raw}   # reprojected into the colour camera, at .../registered
        point_cloud: {color_from: /camera/color/image_raw, max_points: 100000, max_rate: 5}   # at .../points
"""

from __future__ import annotations

import datetime
import ipaddress
import math
import re
from collections.abc import Hashable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from enum import Enum
from pathlib import Path
from typing import Any, NoReturn

import yaml

from .conversion.namespaces import namespace
from .conversion.options import (
    VIDEO_CODECS, DepthCompression, DepthOptions, Intrinsics, PointCloudOptions, RectifyOptions, RegisterOptions, VideoOptions,
)  # fmt: skip


class ConfigError(ValueError):
    """An invalid configuration: each argument one problem, naming the file and key path; the text a line each."""

    def __str__(self) -> str:
        return "\n".join(map(str, self.args))


class TopicKind(str, Enum):
    """What a topic carries, and so which conversion it gets."""

    IMAGE = "image"
    DEPTH = "depth"
    COMPRESSED = "compressed"
    COMPRESSED_DEPTH = "compressed_depth"
    CAMERA_INFO = "camera_info"
    TF = "tf"
    COMPRESSED_VIDEO = "compressed_video"
    FFMPEG_PACKET = "ffmpeg_packet"


IMAGE_TYPE = "sensor_msgs/msg/Image"
COMPRESSED_TYPE = "sensor_msgs/msg/CompressedImage"
CAMERA_INFO_TYPE = "sensor_msgs/msg/CameraInfo"
TF_TYPE = "tf2_msgs/msg/TFMessage"
COMPRESSED_VIDEO_TYPE = "foxglove_msgs/msg/CompressedVideo"
FFMPEG_PACKET_TYPE = "ffmpeg_image_transport_msgs/msg/FFMPEGPacket"
VIDEO_TYPES = frozenset({COMPRESSED_VIDEO_TYPE, FFMPEG_PACKET_TYPE})  # encoded video, passed through

# The message type each kind takes.
KIND_TYPES: dict[TopicKind, str] = {
    TopicKind.IMAGE: IMAGE_TYPE,
    TopicKind.DEPTH: IMAGE_TYPE,
    TopicKind.COMPRESSED: COMPRESSED_TYPE,
    TopicKind.COMPRESSED_DEPTH: COMPRESSED_TYPE,
    TopicKind.CAMERA_INFO: CAMERA_INFO_TYPE,
    TopicKind.TF: TF_TYPE,
    TopicKind.COMPRESSED_VIDEO: COMPRESSED_VIDEO_TYPE,
    TopicKind.FFMPEG_PACKET: FFMPEG_PACKET_TYPE,
}
SUPPORTED_TYPES = frozenset(KIND_TYPES.values())

# The last part of image_transport's topics that carry CompressedImage (or other non-Image) messages.
COMPRESSED_TRANSPORTS = ("compressed", "compressedDepth", "theora", "zstd", "ffmpeg", "h264")


def image_topic(topic: str) -> str:
    """The Image topic an image_transport topic carries (`/cam/image_raw/compressed` -> `/cam/image_raw`)."""
    base, _, last = topic.rpartition("/")
    return base if last in COMPRESSED_TRANSPORTS and base else topic

COLORMAPS = ("grayscale", "inferno", "magma", "plasma", "turbo", "viridis", "cyan_to_yellow")

# The schemes of Rerun's gRPC URLs (`rerun://` is `rerun+https://`); rerun-sdk refuses any other.
VIEWER_SCHEMES = ("rerun+http", "rerun+https", "rerun")
VIEWER_FORMS = "rerun+http(s)://HOST:PORT/proxy, rerun://HOST:PORT/proxy, HOST:PORT or a PORT on 127.0.0.1"
CATALOG_FORMS = "rerun+http(s)://HOST:PORT, rerun://HOST:PORT, HOST:PORT or a PORT on 127.0.0.1"

# Bounds on what a file may make the loader do. A config is a few kB and 5 levels deep; PyYAML parses
# about 40 kB of tokens a second, recurses once per level, and copies the keys of every `<<` merge.
MAX_FILE_BYTES = 128 * 1024
MAX_DEPTH = 32
MAX_MERGED_KEYS = 10_000
MAX_INTEGER_CHARS = 1000  # longer integers take PyYAML quadratic time (Python refuses them past 4,300 digits)

QUEUE_SIZE_MAX = 1000  # a DDS history depth and a deque length: 6 GB of 1080p frames, a leak rather than a buffer
SHOWN_CHARS = 120  # of a value quoted in a message


class Qos(str, Enum):
    """Live subscription QoS. `sensor_data` (best effort, keep last) matches reliable and best-effort publishers."""

    SENSOR_DATA = "sensor_data"
    RELIABLE = "reliable"


@dataclass(frozen=True)
class TopicConfig:
    entity_path: str | None = None  # None: the topic name, as Rerun's MCAP importer does
    kind: TopicKind | None = None  # None: decided from the message type (and encoding)
    depth: DepthOptions = DepthOptions()
    intrinsics: Intrinsics = Intrinsics.K
    max_rate: float | None = None  # Hz; faster messages are skipped
    frame_id: str | None = None  # overrides header.frame_id (e.g. when a driver leaves it empty)
    qos: Qos = Qos.SENSOR_DATA
    queue_size: int = 2  # live: frames held per topic before the oldest is dropped
    max_pixels: int | None = None  # the largest frame decoded (against decompression bombs); None: the conversion's
    video: VideoOptions | None = None  # colour frames encoded as video; None: logged as they come
    depth_compression: DepthCompression | None = None  # 16-bit depth losslessly as PNG, RVL or the smaller (AUTO); None, NONE: raw
    rectify: RectifyOptions | None = None  # Image topics: also (or only) logged rectified; None: raw only
    register: RegisterOptions | None = None  # depth Image topics: also logged reprojected into a colour camera
    point_cloud: PointCloudOptions | None = None  # depth Image topics: also a cloud coloured from a colour camera


@dataclass(frozen=True)
class ServeConfig:
    grpc_port: int = 9876
    web_port: int | None = 9090  # None: gRPC only, no web viewer
    bind: str = "0.0.0.0"  # the gRPC server's address: every interface, so that other machines can view


@dataclass(frozen=True)
class SinksConfig:
    file: Path | None = None
    spawn: bool = False
    connect: str | None = None  # a viewer's gRPC URL, as `viewer_url` gives it
    serve: ServeConfig | None = None

    def any(self) -> bool:
        return bool(self.file or self.spawn or self.connect or self.serve)


@dataclass(frozen=True)
class RecordingConfig:
    application_id: str = "ros2_rerun_bridge"
    recording_id: str | None = None
    sinks: SinksConfig = SinksConfig()


@dataclass(frozen=True)
class BridgeConfig:
    recording: RecordingConfig = RecordingConfig()
    topics: dict[str, TopicConfig] = field(default_factory=dict)
    auto: bool = True
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    narrowed_to: tuple[str, ...] = ()  # --include: a topic must match one of these as well as the config's include
    video: VideoOptions | None = None  # for every colour topic without its own `video` (`replay --video`)
    depth_compression: DepthCompression | None = None  # for every depth topic without its own; None: auto with video
    rectify: RectifyOptions | None = None  # for every topic without its own not named *rect* (`replay --rectify`)
    # A fleet: the robots' namespaces. Each listed (and discovered) topic is bridged under each namespace, and
    # its entity paths and frame names are given the robot's namespace (see conversion/namespaces.py).
    namespaces: tuple[str, ...] = ()
    prefix_frames: bool = True  # False: the robots' frames are distinct already (one global /tf, bridged as is)
    shared_frames: frozenset[str] = frozenset()  # frames not prefixed: the fleet's common `map`
    # False: the source is one robot's, its topics named without its namespace (a bag recorded on the robot, in
    # `convert --namespace-from-path`): every topic is the robot's, namespaces[0], and placed under it all the same.
    topics_namespaced: bool = True

    def __post_init__(self) -> None:
        if not self.topics_namespaced and len(self.namespaces) != 1:
            raise ConfigError(f"a source of one robot takes one namespace, not {len(self.namespaces)}")

    def topic(self, name: str) -> TopicConfig:
        """A topic's options, with the config-wide video and depth compression where it sets none.

        Config-wide video (`--video`) asks for a small recording: its depth is then compressed (`auto`: PNG or
        RVL, whichever is smaller) unless the config says otherwise (`depth_compression: none` keeps it raw).
        Raw depth would be most of it (the RGB-D bench bag: 5x smaller than raw with raw depth, 10x compressed).
        """
        options = self.topics.get(name, TopicConfig())
        rectified_already = "rect" in image_topic(name).rsplit("/", 1)[-1]  # image_rect, image_rect_color, ...
        rectify = options.rectify or (self.rectify if not rectified_already else None)
        implied = DepthCompression.AUTO if self.video is not None else None
        return replace(options, video=options.video or self.video, rectify=rectify,
                       depth_compression=options.depth_compression or self.depth_compression or implied)  # fmt: skip

    @property
    def videos(self) -> set[VideoOptions]:
        """Every video encoding the config asks for: config-wide and per topic (empty: none)."""
        return {self.video, *(options.video for options in self.topics.values())} - {None}

    def selects(self, topic: str) -> bool:
        """Whether a topic passes include/exclude (regular expressions matched in full, as rosbag2 does)."""
        for patterns in (self.include, self.narrowed_to):
            if patterns and not any(re.fullmatch(p, topic) for p in patterns):
                return False
        return not any(re.fullmatch(p, topic) for p in self.exclude)

    def with_filters(self, include: tuple[str, ...] = (), exclude: tuple[str, ...] = ()) -> BridgeConfig:
        """The config with the command line's filters: its include narrows the config's (never widens it), its
        exclude leaves out more."""
        return replace(self, narrowed_to=self.narrowed_to + include, exclude=self.exclude + exclude)

    def with_sinks(self, sinks: SinksConfig) -> BridgeConfig:
        return replace(self, recording=replace(self.recording, sinks=sinks))


def load_config(path: str | Path) -> BridgeConfig:
    """Read and validate a config file."""
    path = Path(path)
    text = _read(path)
    try:
        document = yaml.load(text, Loader=_Loader)
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML: {_yaml_problem(err, text)}") from None
    try:
        return parse_config(document if document is not None else {}, base_dir=path.parent)
    except ConfigError as err:
        raise ConfigError(*(f"{path}: {problem}" for problem in err.args)) from None


def viewer_url(text: str) -> str:
    """The gRPC URL of a viewer given as Rerun's own CLI takes one: a URL, HOST:PORT, or a PORT on 127.0.0.1.

    `rerun+http(s)://HOST[:PORT]/proxy` and `rerun://...` are kept as they are (without a port, Rerun
    takes 51234); `HOST:PORT` becomes `rerun+http://HOST:PORT/proxy`. Anything else is a ConfigError
    now, rather than an exception from rerun-sdk when the sink starts (it refuses `http://` and HOST:PORT).
    """
    try:
        return _grpc_url(text, "/proxy")
    except ValueError as err:
        raise ConfigError(f"{_shown(text)} is not a viewer address ({err}): expected {VIEWER_FORMS}") from None


def catalog_url(text: str) -> str:
    """The URL of a Rerun catalog, given as a viewer's is (`--connect`): a URL, HOST:PORT, or a PORT on 127.0.0.1.

    A catalog's URL has no `/proxy`: `HOST:PORT` becomes `rerun+http://HOST:PORT`. A URL's path is left to
    Rerun's catalog client (a hosted catalog's is its own); a bare port, which that client calls an invalid
    URI, and other schemes are a ConfigError naming the forms it takes.
    """
    try:
        return _grpc_url(text, "")
    except ValueError as err:
        raise ConfigError(f"{_shown(text)} is not a catalog address ({err}): expected {CATALOG_FORMS}") from None


def _grpc_url(text: str, path: str) -> str:
    """`text` as a Rerun gRPC URL ending in `path` (a viewer's `/proxy`; a catalog's "": any, not checked)."""
    if not text:
        raise ValueError("empty")
    if any(c.isspace() for c in text):
        raise ValueError("whitespace in it")
    if re.fullmatch(r"[0-9]+", text):
        return f"rerun+http://127.0.0.1:{_port_number(text)}{path}"
    scheme, has_scheme, rest = text.partition("://")
    if not has_scheme:
        _check_host_port(text, port_required=True)
        return f"rerun+http://{text}{path}"
    if scheme not in VIEWER_SCHEMES:
        raise ValueError(f"Rerun takes no {scheme}:// URLs")
    authority, _, given = rest.partition("/")
    if path and "/" + given != path:
        raise ValueError(f"the path must be {path}")
    _check_host_port(authority, port_required=False)
    return text


def _check_host_port(authority: str, port_required: bool) -> None:
    """Raise ValueError unless `authority` is HOST[:PORT] with a host name, an IPv4 or a bracketed IPv6 address."""
    match = re.fullmatch(r"(\[[^\]]*\]|[^:\[\]]*)(?::([^:]*))?", authority)
    if match is None:
        raise ValueError("not HOST:PORT (an IPv6 address goes in brackets: [::1]:9876)")
    host, port = match.groups()
    if not host:
        raise ValueError("no host")
    if port is not None:
        _port_number(port)
    elif port_required:
        raise ValueError("no port")
    if host.startswith("["):
        if not _is_ip(host[1:-1], ipaddress.IPv6Address):
            raise ValueError(f"{_shown(host)} is not an IPv6 address (without a zone)")
    elif len(host) > 253 or not re.fullmatch(r"[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*\.?", host):
        raise ValueError(f"{_shown(host)} is not a host name")
    elif re.fullmatch(r"(.*\.)?(0[xX][0-9a-fA-F]*|[0-9]+)\.?", host) and not _is_ip(host, ipaddress.IPv4Address):
        raise ValueError(f"{_shown(host)} is not an IPv4 address, and a host name ends in a letter")  # as URLs read it


def _is_ip(text: str, kind: type[ipaddress.IPv4Address] | type[ipaddress.IPv6Address]) -> bool:
    """Whether `text` is an address of that kind, and one a URL can hold (an IPv6 zone, `%eth0`, it cannot)."""
    try:
        return getattr(kind(text), "scope_id", None) is None
    except ValueError:
        return False


def _port_number(text: str) -> int:
    if not re.fullmatch(r"0*[0-9]{1,5}", text) or not 0 < int(text) < 65536:
        raise ValueError(f"port {_shown(text)} is not from 1 to 65535")
    return int(text)


def _read(path: Path) -> str:
    """The file's text: UTF-8, and small enough for PyYAML to parse in seconds."""
    try:
        with path.open("rb") as file:
            data = file.read(MAX_FILE_BYTES + 1)
    except OSError as err:
        raise ConfigError(f"{path}: cannot read: {err.strerror or err}") from None
    except ValueError as err:  # a NUL in the path
        raise ConfigError(f"{str(path)!r}: cannot read: {err}") from None
    if len(data) > MAX_FILE_BYTES:
        raise ConfigError(f"{path}: larger than {MAX_FILE_BYTES // 1024} KiB: not a config file")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        raise ConfigError(f"{path}: not UTF-8 text: line {line}, byte {data[err.start]:#04x}") from None


def _yaml_problem(err: yaml.YAMLError, text: str) -> str:
    """PyYAML's error on one line, with where it is: its own message spans lines and quotes the text."""
    if isinstance(err, yaml.reader.ReaderError):
        line = text.count("\n", 0, err.position) + 1
        return f"line {line}: character U+{err.character:04X} is not allowed in YAML"
    if isinstance(err, yaml.MarkedYAMLError):
        mark = err.problem_mark or err.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        return where + _clip(": ".join(filter(None, (err.context, err.problem))))
    return _clip(str(err))


_MERGE_TAG = "tag:yaml.org,2002:merge"


@dataclass(frozen=True, eq=False)
class _LongInteger:
    """An integer too long to read, as the loader gives it: so that the key it is at can be named."""

    chars: int


class _Loader(yaml.SafeLoader):
    """YAML's safe loader, made total: any text gives a value or a `yaml.YAMLError` at a line, in bounded time.

    PyYAML alone recurses once per level of nesting or of `<<` merges of merges, raises ValueError,
    KeyError and others from its scalar constructors (`!!int ''`, `2020-13-45`), takes quadratic time
    on long integers, and copies the keys of every merge (kB of merges become GB). It also keeps the
    last of a key given twice in one mapping, silently: that is refused here too.
    """

    def __init__(self, stream: str):
        super().__init__(stream)
        self._depth = 0
        self._merged_keys = 0
        self._merging: set[int] = set()  # the mappings whose `<<` merges are under way
        self._merged: set[int] = set()  # and done

    @contextmanager
    def _nested(self, mark: yaml.Mark) -> Iterator[None]:
        if self._depth == MAX_DEPTH:
            raise _problem(f"nested more than {MAX_DEPTH} levels deep", mark)
        self._depth += 1
        try:
            yield
        finally:
            self._depth -= 1

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node:
        with self._nested(self.peek_event().start_mark):
            return super().compose_node(parent, index)

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        if not isinstance(node, yaml.ScalarNode):
            return super().construct_object(node, deep)
        try:
            return super().construct_object(node, deep)
        except (ValueError, TypeError, KeyError, IndexError, AttributeError, OverflowError):
            raise _problem(f"{_shown(node.value)} is not a valid {_tag(node.tag)}", node.start_mark) from None

    def construct_undefined(self, node: yaml.Node) -> NoReturn:
        raise _problem(f"the tag {_tag(node.tag)} is not allowed: a config holds plain values", node.start_mark)

    def construct_yaml_int(self, node: yaml.ScalarNode) -> int | _LongInteger:
        if len(node.value) > MAX_INTEGER_CHARS:
            return _LongInteger(len(node.value))
        return super().construct_yaml_int(node)

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        seen: set = set()
        for key_node, _ in node.value:
            if key_node.tag == _MERGE_TAG:  # `<<: *defaults` may be overridden, on purpose
                continue
            key = self.construct_object(key_node, deep=deep)
            if not isinstance(key, Hashable):
                raise _problem(f"a key must be a plain value, not {_describe(key)}", key_node.start_mark)
            if key in seen:
                raise _problem(f"duplicate key {_shown(key)}", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep)

    def flatten_mapping(self, node: yaml.MappingNode) -> None:
        """Apply `<<` merges, counting the keys they copy against MAX_MERGED_KEYS before PyYAML copies them."""
        if id(node) in self._merged:
            return
        if id(node) in self._merging:
            raise _problem("a `<<` merge includes the mapping it is in", node.start_mark)
        self._merging.add(id(node))
        merged = [sub for key, value in node.value if key.tag == _MERGE_TAG
                  for sub in (value.value if isinstance(value, yaml.SequenceNode) else [value])
                  if isinstance(sub, yaml.MappingNode)]  # fmt: skip
        with self._nested(node.start_mark):
            for sub in merged:
                self.flatten_mapping(sub)
        self._merged_keys += sum(len(sub.value) for sub in merged)
        if self._merged_keys > MAX_MERGED_KEYS:
            raise _problem(f"`<<` merges copy more than {MAX_MERGED_KEYS} keys", node.start_mark)
        super().flatten_mapping(node)
        self._merged.add(id(node))


_Loader.add_constructor("tag:yaml.org,2002:int", _Loader.construct_yaml_int)
_Loader.add_constructor(None, _Loader.construct_undefined)


def _problem(message: str, mark: yaml.Mark) -> yaml.MarkedYAMLError:
    """An error at `mark` in the file, as PyYAML raises them."""
    return yaml.MarkedYAMLError(problem=message, problem_mark=mark)


def _tag(tag: str) -> str:
    return tag.replace("tag:yaml.org,2002:", "!!")


def parse_config(document: Any, base_dir: Path = Path(".")) -> BridgeConfig:
    """Validate a config read from YAML or built in code; a relative `file` sink is taken from `base_dir`.

    The ConfigError holds every problem found. Keys are checked each by itself: one with a problem is taken as
    its default, so that the keys after it are checked too. The checks across keys (a depth topic's colour
    camera is a bridged Image topic) are made only on a config that has no other problem, so that a key taken
    as its default does not bring a problem of its own.
    """
    if not isinstance(document, dict):
        raise ConfigError(f"the document: expected a mapping, got {_describe(document)}")
    problems: list[str] = []
    root = _Mapping(document, "", {"recording", "auto", "include", "exclude", "topics", "video", "depth_compression",
                                   "namespaces", "prefix_frames", "shared_frames"}, problems)  # fmt: skip
    config = BridgeConfig(
        recording=_recording(root, base_dir),
        topics=_topics(root),
        auto=root.typed("auto", bool, True),
        include=_patterns(root, "include"),
        exclude=_patterns(root, "exclude"),
        video=_video(root),
        depth_compression=root.choice("depth_compression", DepthCompression, None),
        namespaces=_namespaces(root),
        prefix_frames=root.typed("prefix_frames", bool, True),
        shared_frames=_frame_names(root),
    )
    if not problems:
        problems.extend(_colour_topic_problems(config))
    if problems:
        raise ConfigError(*problems)
    return config


class _Mapping:
    """A YAML mapping at a key path, whose problems go to the document's list (keys outside `allowed` too); each
    accessor records its key's problem and gives the key's default, so that checking goes on."""

    def __init__(self, value: dict, path: str, allowed: set[str] | None, problems: list[str]):
        self.value, self.path, self.problems = value, path, problems
        if allowed is not None:
            for key in value:
                if key not in allowed:
                    self.problem(key, f"unknown key (allowed: {', '.join(sorted(allowed))})")

    def problem(self, key: Any, message: str, default: Any = None) -> Any:
        """Record a problem at `key`; `default`, to go on with."""
        self.problems.append(f"{_join(self.path, key)}: {message}")
        return default

    def child(self, key: Any, value: Any, allowed: set[str] | None) -> _Mapping | None:
        """`value` (what `key` holds, or a shorthand of it spelt out) as a mapping; None, a problem, if it is not one."""
        if not isinstance(value, dict):
            return self.problem(key, f"expected a mapping, got {_describe(value)}")
        return _Mapping(value, _join(self.path, key), allowed, self.problems)

    def get(self, key: str, default: Any = None) -> Any:
        return self.value.get(key, default)

    def typed(self, key: str, kind: type | tuple[type, ...], default: Any) -> Any:
        value = self.value.get(key)
        if value is None:
            return default
        kinds = kind if isinstance(kind, tuple) else (kind,)
        if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
            return self.problem(key, f"expected {_type_name(kinds)}, got {_describe(value)}", default)
        return value

    def positive(self, key: str) -> float | None:
        value = self.typed(key, (int, float), None)
        if value is not None and not (math.isfinite(_as_float(value)) and value > 0):
            return self.problem(key, f"expected a positive finite number, got {_shown(value)}")
        return None if value is None else float(value)

    def integer(self, key: str, default: int | None, low: int, high: int, what: str = "") -> int | None:
        value = self.typed(key, int, default)
        if value is not None and not low <= value <= high:
            return self.problem(key, f"expected {what or f'an integer from {low} to {high}'}, got {_shown(value)}", default)
        return value

    def text(self, key: str, default: str | None) -> str | None:
        """A string that names something (an id): empty is a mistake, not a default."""
        value = self.typed(key, str, default)
        if value is not None and not value.strip():
            return self.problem(key, f"expected a non-empty string, got {_shown(value)}", default)
        return value

    def choice(self, key: str, enum: type[Enum], default: Any) -> Any:
        value = self.value.get(key)
        if value is None:
            return default
        try:
            return enum(value)
        except ValueError:
            allowed = ", ".join(str(m.value) for m in enum)
            return self.problem(key, f"{_shown(value)} is not one of: {allowed}", default)


def _recording(root: _Mapping, base_dir: Path) -> RecordingConfig:
    node = root.child("recording", root.get("recording", {}), {"application_id", "recording_id", "sinks"})
    if node is None:
        return RecordingConfig()
    return RecordingConfig(
        application_id=node.text("application_id", RecordingConfig.application_id),
        recording_id=node.text("recording_id", None),
        sinks=_sinks(node, base_dir),
    )


def _sinks(recording: _Mapping, base_dir: Path) -> SinksConfig:
    node = recording.child("sinks", recording.get("sinks", {}), {"file", "spawn", "connect", "serve"})
    if node is None:
        return SinksConfig()
    file = node.typed("file", str, None)
    if file and "\0" in file:
        file = node.problem("file", "a path cannot hold a NUL character")
    return SinksConfig(
        file=(base_dir / file) if file else None,
        spawn=node.typed("spawn", bool, False),
        connect=_connect(node),
        serve=_serve(node),
    )


def _connect(node: _Mapping) -> str | None:
    """The viewer to stream to: a URL, HOST:PORT, or a bare port (which YAML reads as an integer)."""
    value = node.typed("connect", (str, int), None)
    if isinstance(value, int):
        port = node.integer("connect", None, 1, 65535)
        value = None if port is None else str(port)
    try:
        return None if value is None else viewer_url(value)
    except ConfigError as err:
        return node.problem("connect", str(err))


def _switch(node: _Mapping, key: str, allowed: set[str]) -> _Mapping | None:
    """A setting that is `true`, `false` or a mapping of `allowed` keys; None when it is off or absent (or has a
    problem), and an empty mapping (every default) for `true`."""
    value = node.get(key)
    if value is None or value is False:
        return None
    if value is not True and not isinstance(value, dict):
        return node.problem(key, f"expected true, false or a mapping, got {_describe(value)}")
    return node.child(key, {} if value is True else value, allowed)


def _serve(node: _Mapping) -> ServeConfig | None:
    serve = _switch(node, "serve", {"grpc_port", "web_port", "bind"})
    if serve is None:
        return None
    # `web_port: null` serves gRPC alone; leaving web_port out serves the web viewer on its default port.
    web_default = None if "web_port" in serve.value else ServeConfig.web_port
    return ServeConfig(
        grpc_port=serve.integer("grpc_port", ServeConfig.grpc_port, 1, 65535),
        web_port=serve.integer("web_port", web_default, 1, 65535),
        bind=_bind(serve),
    )


def _bind(node: _Mapping) -> str:
    """The gRPC server's address: IPv4, the only form that both rerun-sdk's server and the `rerun` web viewer take."""
    value = node.typed("bind", str, ServeConfig.bind)
    try:
        ipaddress.IPv4Address(value)
    except ValueError:
        message = (f"expected an IPv4 address, such as 0.0.0.0 (every interface) or 127.0.0.1 (this machine only), "
                   f"got {_shown(value)}")  # fmt: skip
        return node.problem("bind", message, ServeConfig.bind)
    return value


def _topics(root: _Mapping) -> dict[str, TopicConfig]:
    node = root.child("topics", root.get("topics", {}), None)
    if node is None:
        return {}
    topics = {}
    for name, value in node.value.items():
        if _is_topic_name(name):
            topics[name] = _topic(node, name, value)
        else:
            node.problem(name, "topic names are absolute, like /camera/color/image_raw")
    return topics


def _topic(topics: _Mapping, name: str, value: Any) -> TopicConfig:
    allowed = {"entity_path", "kind", "meter", "colormap", "depth_range", "point_fill_ratio", "intrinsics",
               "max_rate", "frame_id", "qos", "queue_size", "max_pixels", "video", "depth_compression", "rectify",
               "register", "point_cloud"}  # fmt: skip
    node = topics.child(name, value if value is not None else {}, allowed)
    if node is None:
        return TopicConfig()
    return TopicConfig(
        entity_path=_entity_path(node),
        kind=node.choice("kind", TopicKind, None),
        depth=DepthOptions(
            meter=node.positive("meter"),
            colormap=_colormap(node),
            depth_range=_range(node, "depth_range"),
            point_fill_ratio=node.positive("point_fill_ratio"),
        ),
        intrinsics=node.choice("intrinsics", Intrinsics, Intrinsics.K),
        max_rate=node.positive("max_rate"),
        frame_id=node.typed("frame_id", str, None) or None,
        qos=node.choice("qos", Qos, Qos.SENSOR_DATA),
        queue_size=node.integer("queue_size", TopicConfig.queue_size, 1, QUEUE_SIZE_MAX),
        max_pixels=node.integer("max_pixels", None, 1, 2**63 - 1, "a positive 64-bit integer"),
        video=_video(node),
        depth_compression=node.choice("depth_compression", DepthCompression, None),
        rectify=_rectify(node),
        register=_register(node),
        point_cloud=_point_cloud(node),
    )


def _colormap(node: _Mapping) -> str | None:
    colormap = node.typed("colormap", str, None)
    if colormap is not None and colormap.lower() not in COLORMAPS:
        return node.problem("colormap", f"{_shown(colormap)} is not one of: {', '.join(COLORMAPS)}")
    return colormap.lower() if colormap else None


def _rectify(node: _Mapping) -> RectifyOptions | None:
    """`rectify: true` or `rectify: {entity_path: /camera/image_rect, keep_raw: false}`."""
    rectify = _switch(node, "rectify", {"entity_path", "keep_raw"})
    if rectify is None:
        return None
    return RectifyOptions(entity_path=_entity_path(rectify), keep_raw=rectify.typed("keep_raw", bool, True))


def _register(node: _Mapping) -> RegisterOptions | None:
    """`register: /camera/color/image_raw` or `register: {to: /camera/color/image_raw, entity_path: /camera/aligned}`."""
    value = node.get("register")
    if value is None:
        return None
    register = node.child("register", {"to": value} if isinstance(value, str) else value, {"to", "entity_path"})
    if register is None:
        return None
    return RegisterOptions(to=_image_topic(register, "to"), entity_path=_entity_path(register))


def _point_cloud(node: _Mapping) -> PointCloudOptions | None:
    """`point_cloud: {color_from: /camera/color/image_raw, max_points: 100000, max_rate: 5, stamp_tolerance: 0.02}`."""
    value = node.get("point_cloud")
    if value is None:
        return None
    keys = {"color_from", "max_points", "max_rate", "stamp_tolerance", "entity_path"}
    cloud = node.child("point_cloud", {"color_from": value} if isinstance(value, str) else value, keys)
    if cloud is None:
        return None
    defaults = PointCloudOptions("")
    max_rate = cloud.positive("max_rate") if "max_rate" in cloud.value else defaults.max_rate  # null: every pair
    tolerance = cloud.typed("stamp_tolerance", (int, float), None)
    if tolerance is not None and not (math.isfinite(_as_float(tolerance)) and tolerance >= 0):
        tolerance = cloud.problem("stamp_tolerance", f"expected seconds (a finite number >= 0), got {_shown(tolerance)}")
    return PointCloudOptions(
        color_from=_image_topic(cloud, "color_from"),
        max_points=cloud.integer("max_points", defaults.max_points, 1, 2**31 - 1, "a positive integer"),
        max_rate=max_rate,
        stamp_tolerance=defaults.stamp_tolerance if tolerance is None else float(tolerance),
        entity_path=_entity_path(cloud),
    )


def _image_topic(node: _Mapping, key: str) -> str:
    """The colour camera's Image topic: required, and an absolute topic name ("" after a problem)."""
    if node.get(key) is None:
        return node.problem(key, "required: the colour camera's Image topic", "")
    name = node.typed(key, str, "")
    if name and not _is_topic_name(name):
        return node.problem(key, f"expected an absolute topic name, like /camera/color/image_raw, got {_shown(name)}", "")
    return name


def _entity_path(node: _Mapping) -> str | None:
    entity_path = node.typed("entity_path", str, None)
    if entity_path is not None and not entity_path.strip("/"):
        return node.problem("entity_path", f"must name an entity, got {_shown(entity_path)}")
    return entity_path


def _colour_topic_problems(config: BridgeConfig) -> Iterator[str]:
    """A depth topic's `register.to` and `point_cloud.color_from` name raw Image topics that the bridge takes in."""
    for topic, options in config.topics.items():
        path = _join("topics", topic)
        named = [("register", "to", options.register and options.register.to),
                 ("point_cloud", "color_from", options.point_cloud and options.point_cloud.color_from)]  # fmt: skip
        for product, key, colour in named:
            if not colour:
                continue
            if options.kind not in (None, TopicKind.DEPTH):
                yield (f"{path}.{product}: {topic} is configured as kind {options.kind.value}: only depth Image topics "
                       f"are registered or made into clouds")  # fmt: skip
            elif (problem := _colour_topic_problem(config, topic, colour)) is not None:
                yield f"{path}.{product}.{key}: {problem}"


def _colour_topic_problem(config: BridgeConfig, topic: str, colour: str) -> str | None:
    if colour == topic:
        return "the depth topic itself; name the colour camera's Image topic"
    colour_kind = config.topics[colour].kind if colour in config.topics else None
    if colour_kind not in (None, TopicKind.IMAGE):
        return f"{colour} is configured as kind {colour_kind.value}, not an Image topic (kind image)"
    transport = colour.rsplit("/", 1)[-1]
    if transport in COMPRESSED_TRANSPORTS:
        raw = colour.rsplit("/", 1)[0]
        return f"{colour} is an image_transport {transport} topic, not an Image topic (name the raw one, such as {raw})"
    if not config.selects(colour) or not (config.auto or colour in config.topics):
        return f"{colour} is not bridged (list it under topics, or check include/exclude)"
    return None


def _video(node: _Mapping) -> VideoOptions | None:
    """`video: h264` or `video: {codec: h264, gop: 30, quality: 23, preset: veryfast, encoder: h264_nvenc,
    low_latency: true}`."""
    value = node.get("video")
    if value is None or value is False:
        return None
    keys = {"codec", "gop", "quality", "preset", "encoder", "low_latency"}
    video = node.child("video", {"codec": value} if isinstance(value, str) else value, keys)
    if video is None:
        return None
    codec = video.typed("codec", str, VideoOptions.codec).lower()
    if codec not in VIDEO_CODECS:
        codec = video.problem("codec", f"{_shown(codec)} is not one of: {', '.join(VIDEO_CODECS)}", VideoOptions.codec)
    preset = video.typed("preset", (str, int), None)  # SVT-AV1's presets are numbers
    return VideoOptions(
        codec=codec,
        gop=video.integer("gop", VideoOptions.gop, 1, 1000),
        quality=video.integer("quality", None, 0, 63 if codec == "av1" else 51),
        preset=None if preset is None else str(preset),
        encoder=video.text("encoder", None),
        low_latency=video.typed("low_latency", bool, False),
    )


def _range(node: _Mapping, key: str) -> tuple[float, float] | None:
    value = node.get(key)
    if value is None:
        return None
    if isinstance(value, list) and len(value) == 2 and all(_is_number(v) for v in value):
        low, high = (_as_float(v) for v in value)
        if math.isfinite(low) and math.isfinite(high) and low < high:
            return low, high
    return node.problem(key, f"expected [min, max] with min < max, got {_shown(value)}")


def _is_topic_name(name: Any) -> bool:
    return isinstance(name, str) and name.startswith("/") and not name.endswith("/") and "//" not in name


def _namespaces(root: _Mapping) -> tuple[str, ...]:
    """The robots' ROS namespaces, each once, as `/robot1`."""
    value = root.get("namespaces", [])
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        return root.problem("namespaces", f"expected a list of ROS namespaces (like /robot1), got {_describe(value)}", ())
    found: list[str] = []
    for item in value:
        try:
            name = namespace(item) if isinstance(item, str) else None
        except ValueError as err:
            root.problem("namespaces", f"{_shown(item)}: {err}")
            continue
        if name is None:
            root.problem("namespaces", f"expected ROS namespaces (strings like /robot1), got {_shown(item)}")
        elif name in found:
            root.problem("namespaces", f"{name} is given twice")
        else:
            found.append(name)
    return tuple(found)


def _frame_names(root: _Mapping) -> frozenset[str]:
    """TF frame names, as tf2 writes them (no leading slash)."""
    value = root.get("shared_frames", [])
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(item, str) and item.strip("/") for item in value):
        return root.problem("shared_frames", f"expected a list of TF frame names (like map), got {_shown(value)}", frozenset())
    return frozenset(item.lstrip("/") for item in value)


def _patterns(root: _Mapping, key: str) -> tuple[str, ...]:
    value = root.get(key, [])
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        return root.problem(key, f"expected a list of regular expressions, got {_describe(value)}", ())
    patterns = []
    for pattern in value:
        if not isinstance(pattern, str):
            root.problem(key, f"expected regular expressions (strings), got {_shown(pattern)}")
            continue
        try:
            re.compile(pattern)
        except re.error as err:
            root.problem(key, f"{_shown(pattern)} is not a regular expression: {err}")
        except (OverflowError, ValueError, RecursionError) as err:  # re's parser: repeat counts, nesting
            problem = "nested too deeply" if isinstance(err, RecursionError) else "a number in it is too large"
            root.problem(key, f"{_shown(pattern)} is not a regular expression: {problem}")
        else:
            patterns.append(pattern)
    return tuple(patterns)


def _join(path: str, key: Any) -> str:
    label = key if isinstance(key, str) and key.isprintable() and len(key) <= SHOWN_CHARS else _shown(key)
    return f"{path}.{label}" if path else label


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _as_float(value: int | float) -> float:
    """`float(value)`, with an integer beyond a float's range as infinity rather than an OverflowError."""
    try:
        return float(value)
    except OverflowError:
        return math.inf if value > 0 else -math.inf


def _describe(value: Any) -> str:
    if isinstance(value, _LongInteger):
        return f"an integer too long to read ({value.chars} characters)"
    return {bool: "a boolean", int: "an integer", float: "a number", str: "a string", list: "a list",
            dict: "a mapping", type(None): "nothing", datetime.date: "a date",
            datetime.datetime: "a date and time"}.get(type(value), type(value).__name__)  # fmt: skip


def _shown(value: Any, nested: bool = False) -> str:
    """A value as a message quotes it: short and on one line, whatever the file held."""
    if isinstance(value, str):
        return repr(value) if len(value) <= SHOWN_CHARS else f"{value[:SHOWN_CHARS]!r}..."
    if isinstance(value, bool) or value is None:
        return {True: "true", False: "false", None: "null"}[value]
    if isinstance(value, int):
        return repr(value) if value.bit_length() <= 64 else f"a {_digits(value)}-digit integer"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, list) and len(value) <= 4 and not nested:
        return f"[{', '.join(_shown(v, nested=True) for v in value)}]"
    return _describe(value)


def _digits(value: int) -> int:
    """How many digits an integer has, without printing it (Python refuses to, past 4,300 digits)."""
    digits = int(value.bit_length() * math.log10(2)) + 2  # one or two more than it has
    while digits > 1 and 10 ** (digits - 1) > abs(value):
        digits -= 1
    return digits


def _clip(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= 2 * SHOWN_CHARS else text[: 2 * SHOWN_CHARS] + "..."


def _type_name(kinds: tuple[type, ...]) -> str:
    return "a number" if set(kinds) == {int, float} else " or ".join(_describe(k()) for k in kinds)
