"""The YAML configuration: one file for replay, live DDS and the ROS 2 node.

Validated completely before anything runs; every problem is a `ConfigError`
naming the key path (`topics./camera/depth.meter`) and what is allowed.

    recording:
      application_id: my_robot
      sinks:
        file: robot.rrd
        spawn: true
        connect: rerun+http://127.0.0.1:9876/proxy
        serve: {grpc_port: 9876, web_port: 9090}
    auto: true            # also bridge unlisted camera and TF topics with defaults
    include: ['/camera/.*']
    exclude: ['.*/ir/.*']
    topics:
      /camera/depth/image_rect_raw:
        entity_path: /camera/depth
        kind: depth
        meter: 1000
        colormap: turbo
        depth_range: [0.2, 5.0]   # metres
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, replace
from enum import Enum
from pathlib import Path
from typing import Any, Callable

import yaml

from .conversion.options import DepthOptions, Intrinsics


class ConfigError(ValueError):
    """An invalid configuration; the text names the file and key path."""


class TopicKind(str, Enum):
    """What a topic carries, and so which conversion it gets."""

    IMAGE = "image"
    DEPTH = "depth"
    COMPRESSED = "compressed"
    COMPRESSED_DEPTH = "compressed_depth"
    CAMERA_INFO = "camera_info"
    TF = "tf"


IMAGE_TYPE = "sensor_msgs/msg/Image"
COMPRESSED_TYPE = "sensor_msgs/msg/CompressedImage"
CAMERA_INFO_TYPE = "sensor_msgs/msg/CameraInfo"
TF_TYPE = "tf2_msgs/msg/TFMessage"

# The message type each kind takes.
KIND_TYPES: dict[TopicKind, str] = {
    TopicKind.IMAGE: IMAGE_TYPE,
    TopicKind.DEPTH: IMAGE_TYPE,
    TopicKind.COMPRESSED: COMPRESSED_TYPE,
    TopicKind.COMPRESSED_DEPTH: COMPRESSED_TYPE,
    TopicKind.CAMERA_INFO: CAMERA_INFO_TYPE,
    TopicKind.TF: TF_TYPE,
}
SUPPORTED_TYPES = frozenset(KIND_TYPES.values())

COLORMAPS = ("grayscale", "inferno", "magma", "plasma", "turbo", "viridis", "cyan_to_yellow")


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


@dataclass(frozen=True)
class ServeConfig:
    grpc_port: int = 9876
    web_port: int | None = 9090  # None: gRPC only, no web viewer
    bind: str = "0.0.0.0"  # the gRPC server's address: every interface, so that other machines can view


@dataclass(frozen=True)
class SinksConfig:
    file: Path | None = None
    spawn: bool = False
    connect: str | None = None
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

    def topic(self, name: str) -> TopicConfig:
        return self.topics.get(name, TopicConfig())

    def selects(self, topic: str) -> bool:
        """Whether a topic passes include/exclude (regular expressions matched in full, as rosbag2 does)."""
        if self.include and not any(re.fullmatch(p, topic) for p in self.include):
            return False
        return not any(re.fullmatch(p, topic) for p in self.exclude)

    def with_filters(self, include: tuple[str, ...] = (), exclude: tuple[str, ...] = ()) -> BridgeConfig:
        return replace(self, include=self.include + include, exclude=self.exclude + exclude)

    def with_sinks(self, sinks: SinksConfig) -> BridgeConfig:
        return replace(self, recording=replace(self.recording, sinks=sinks))


def load_config(path: str | Path) -> BridgeConfig:
    """Read and validate a config file."""
    path = Path(path)
    try:
        document = yaml.load(path.read_text(), Loader=_UniqueKeyLoader)
    except OSError as err:
        raise ConfigError(f"{path}: cannot read: {err.strerror or err}") from None
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML: {err}") from None
    try:
        return parse_config(document if document is not None else {}, base_dir=path.parent)
    except ConfigError as err:
        raise ConfigError(f"{path}: {err}") from None


class _UniqueKeyLoader(yaml.SafeLoader):
    """YAML's safe loader, refusing a key given twice in one mapping (PyYAML would keep the last silently)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        seen: set = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":  # `<<: *defaults` may be overridden, on purpose
                continue
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep)


def parse_config(document: Any, base_dir: Path = Path(".")) -> BridgeConfig:
    root = _Mapping(document, "", {"recording", "auto", "include", "exclude", "topics"})
    topics = _Mapping(root.get("topics", {}), "topics", None)
    return BridgeConfig(
        recording=_recording(root.get("recording", {}), base_dir),
        topics={name: _topic(value, f"topics.{name}") for name, value in topics.items(_topic_name)},
        auto=root.typed("auto", bool, True),
        include=_patterns(root.get("include", []), "include"),
        exclude=_patterns(root.get("exclude", []), "exclude"),
    )


class _Mapping:
    """A YAML mapping at a key path, rejecting keys outside `allowed`."""

    def __init__(self, value: Any, path: str, allowed: set[str] | None):
        if not isinstance(value, dict):
            raise ConfigError(f"{path or 'the document'}: expected a mapping, got {_describe(value)}")
        if allowed is not None:
            for key in value:
                if key not in allowed:
                    raise ConfigError(f"{_join(path, key)}: unknown key (allowed: {', '.join(sorted(allowed))})")
        self.value, self.path = value, path

    def get(self, key: str, default: Any = None) -> Any:
        return self.value.get(key, default)

    def items(self, check_key: Callable[[Any, str], str]):
        return ((check_key(k, self.path), v) for k, v in self.value.items())

    def key(self, key: str) -> str:
        return _join(self.path, key)

    def typed(self, key: str, kind: type | tuple[type, ...], default: Any) -> Any:
        value = self.value.get(key)
        if value is None:
            return default
        kinds = kind if isinstance(kind, tuple) else (kind,)
        if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
            raise ConfigError(f"{self.key(key)}: expected {_type_name(kinds)}, got {_describe(value)}")
        return value

    def number(self, key: str, default: float | None, *, positive: bool = False) -> float | None:
        value = self.typed(key, (int, float), default)
        if value is None:
            return None
        if not math.isfinite(value) or (positive and value <= 0):
            raise ConfigError(f"{self.key(key)}: expected a {'positive ' if positive else ''}finite number, got {value}")
        return float(value)

    def choice(self, key: str, enum: type[Enum], default: Any) -> Any:
        value = self.value.get(key)
        if value is None:
            return default
        try:
            return enum(value)
        except ValueError:
            allowed = ", ".join(str(m.value) for m in enum)
            raise ConfigError(f"{self.key(key)}: {value!r} is not one of: {allowed}") from None


def _recording(value: Any, base_dir: Path) -> RecordingConfig:
    node = _Mapping(value, "recording", {"application_id", "recording_id", "sinks"})
    return RecordingConfig(
        application_id=node.typed("application_id", str, RecordingConfig.application_id),
        recording_id=node.typed("recording_id", str, None),
        sinks=_sinks(node.get("sinks", {}), base_dir),
    )


def _sinks(value: Any, base_dir: Path) -> SinksConfig:
    node = _Mapping(value, "recording.sinks", {"file", "spawn", "connect", "serve"})
    file = node.typed("file", str, None)
    serve = node.get("serve")
    if serve is True:
        serve_config = ServeConfig()
    elif serve in (None, False):
        serve_config = None
    else:
        serve_node = _Mapping(serve, "recording.sinks.serve", {"grpc_port", "web_port", "bind"})
        serve_config = ServeConfig(
            grpc_port=_port(serve_node, "grpc_port", ServeConfig.grpc_port),
            web_port=_port(serve_node, "web_port", ServeConfig.web_port),
            bind=serve_node.typed("bind", str, ServeConfig.bind),
        )
    return SinksConfig(
        file=(base_dir / file) if file else None,
        spawn=node.typed("spawn", bool, False),
        connect=node.typed("connect", str, None),
        serve=serve_config,
    )


def _port(node: _Mapping, key: str, default: int | None) -> int | None:
    port = node.typed(key, int, default)
    if port is not None and not 0 < port < 65536:
        raise ConfigError(f"{node.key(key)}: {port} is not a TCP port (1-65535)")
    return port


def _topic(value: Any, path: str) -> TopicConfig:
    allowed = {"entity_path", "kind", "meter", "colormap", "depth_range", "point_fill_ratio", "intrinsics",
               "max_rate", "frame_id", "qos", "queue_size"}  # fmt: skip
    node = _Mapping(value if value is not None else {}, path, allowed)
    entity_path = node.typed("entity_path", str, None)
    if entity_path is not None and not entity_path.strip("/"):
        raise ConfigError(f"{node.key('entity_path')}: must name an entity, got {entity_path!r}")
    colormap = node.typed("colormap", str, None)
    if colormap is not None and colormap.lower() not in COLORMAPS:
        raise ConfigError(f"{node.key('colormap')}: {colormap!r} is not one of: {', '.join(COLORMAPS)}")
    queue_size = node.typed("queue_size", int, TopicConfig.queue_size)
    if queue_size < 1:
        raise ConfigError(f"{node.key('queue_size')}: must be at least 1, got {queue_size}")
    return TopicConfig(
        entity_path=entity_path,
        kind=node.choice("kind", TopicKind, None),
        depth=DepthOptions(
            meter=node.number("meter", None, positive=True),
            colormap=colormap.lower() if colormap else None,
            depth_range=_range(node, "depth_range"),
            point_fill_ratio=node.number("point_fill_ratio", None, positive=True),
        ),
        intrinsics=node.choice("intrinsics", Intrinsics, Intrinsics.K),
        max_rate=node.number("max_rate", None, positive=True),
        frame_id=node.typed("frame_id", str, None) or None,
        qos=node.choice("qos", Qos, Qos.SENSOR_DATA),
        queue_size=queue_size,
    )


def _range(node: _Mapping, key: str) -> tuple[float, float] | None:
    value = node.get(key)
    if value is None:
        return None
    if (
        not isinstance(value, list)
        or len(value) != 2
        or not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in value)
        or value[0] >= value[1]
    ):
        raise ConfigError(f"{node.key(key)}: expected [min, max] with min < max, got {value!r}")
    return float(value[0]), float(value[1])


def _topic_name(name: Any, path: str) -> str:
    if not isinstance(name, str) or not name.startswith("/") or name.endswith("/") or "//" in name:
        raise ConfigError(f"{_join(path, str(name))}: topic names are absolute, like /camera/color/image_raw")
    return name


def _patterns(value: Any, path: str) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{path}: expected a list of regular expressions, got {_describe(value)}")
    for pattern in value:
        try:
            re.compile(pattern)
        except re.error as err:
            raise ConfigError(f"{path}: {pattern!r} is not a regular expression: {err}") from None
    return tuple(value)


def _join(path: str, key: Any) -> str:
    return f"{path}.{key}" if path else str(key)


def _describe(value: Any) -> str:
    return {bool: "a boolean", int: "an integer", float: "a number", str: "a string", list: "a list",
            dict: "a mapping", type(None): "nothing"}.get(type(value), type(value).__name__)  # fmt: skip


def _type_name(kinds: tuple[type, ...]) -> str:
    return "a number" if set(kinds) == {int, float} else " or ".join(_describe(k()) for k in kinds)
