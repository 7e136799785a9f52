"""Live ROS 2 topics over DDS with Cyclone DDS: no ROS installation needed.

Wire compatibility with ROS 2 nodes (rmw_cyclonedds, rmw_fastrtps): ROS topic `/a/b` is DDS topic
`rt/a/b`, type `pkg/msg/Name` is `pkg::msg::dds_::Name_`, payloads are plain CDR with the 4-byte
encapsulation header. Readers are declared with IDL types generated from rosbags' message
definitions, so that they are assignable to what ROS declares when a writer announces its type, and
they carry the REP-2011 type hash in USER_DATA (`typehash=RIHS01_<hex>;`) as rmw endpoints do.

Cyclone DDS joins with the bridge's own settings under the user's `CYCLONEDDS_URI` (`cyclone_config`):
a large socket receive buffer, without which raw frames are lost in UDP, and no XTypes type checks
against Fast DDS writers, whose type information Cyclone DDS 11 rejects (no data would flow from
ROS 2 nodes on rmw_fastrtps_cpp, the default RMW).

Samples are taken as their serialized bytes (`ddspy_take`, what `DataReader.take` calls before
its IDL deserializer): that deserializer turns `sequence<uint8>` into a Python list, about 100 ms
for one 1080p rgb8 frame here, against about 6 ms to take the bytes and 1 ms for rosbags to decode
them into NumPy views. Taking only hands the bytes to `LiveQueues`; deserializing and converting
happen on its per-topic workers, so a slow conversion never delays receiving.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from collections import defaultdict
from functools import cache
from typing import Any

from cyclonedds._clayer import ddspy_take  # the serialized samples, before IDL deserialization
from cyclonedds.builtin import BuiltinDataReader, BuiltinTopicDcpsPublication
from cyclonedds.core import DDSException, InstanceState, Policy, ReadCondition, SampleState, ViewState, WaitSet
from cyclonedds.core import Qos as DdsQos
from cyclonedds.domain import Domain, DomainParticipant
from cyclonedds.idl import IdlStruct, make_idl_struct, types
from cyclonedds.sub import DataReader
from cyclonedds.topic import Topic
from rosbags.typesys import Stores, get_typestore
from rosbags.typesys.store import Nodetype

from ..config import ConfigError
from ..msgs import register_video_types
from ..core import Bridge, LiveQueues, Route
from .receive_buffer import RECEIVE_BUFFER_BYTES, capped_receive_buffer_warning, kernel_receive_buffer_max
from ..core.subscriptions import SubscriptionQos, needs_discovery, silent_topic_warnings, subscription_qos, typed_topics

log = logging.getLogger("ros2_rerun_bridge")

# These message types are the same in every ROS 2 release; the video types come from this package's definitions.
TYPESTORE = register_video_types(get_typestore(Stores.ROS2_HUMBLE))
ANY_SAMPLE = SampleState.Any | ViewState.Any | InstanceState.Any
TAKE_MAX = 64  # samples per reader per wake-up; the rest keeps the waitset triggered
WAIT_S = 0.2  # longest wait between checks for the end (duration, stop, Ctrl-C)
REPORT_PERIOD_S = 5.0
SILENCE_CHECK_S = 5.0  # after this long, configured topics without a message are reported
EPROSIMA_VENDOR_ID = "1.15"

_IDL_BASE_TYPES: dict[str, Any] = {
    "bool": bool, "byte": types.byte, "char": types.char, "string": str,
    "int8": types.int8, "uint8": types.uint8, "int16": types.int16, "uint16": types.uint16,
    "int32": types.int32, "uint32": types.uint32, "int64": types.int64, "uint64": types.uint64,
    "float32": types.float32, "float64": types.float64,
}  # fmt: skip
_DDS_TYPE_NAME = re.compile(r"(\w+)::msg::dds_::(\w+)_")


class DdsError(RuntimeError):
    """DDS could not be set up (domain, Cyclone DDS configuration)."""


def dds_type_name(msgtype: str) -> str:
    """`sensor_msgs/msg/Image` -> `sensor_msgs::msg::dds_::Image_`, as rosidl names DDS types."""
    package, _, name = msgtype.split("/")
    return f"{package}::msg::dds_::{name}_"


def ros_type_name(dds_name: str) -> str | None:
    """The inverse of `dds_type_name`; None for types that are not ROS messages."""
    match = _DDS_TYPE_NAME.fullmatch(dds_name)
    return f"{match[1]}/msg/{match[2]}" if match else None


def ros_topic_name(dds_topic: str) -> str | None:
    """`rt/a/b` -> `/a/b`; None for DDS topics that are not ROS topics (services, `ros_discovery_info`)."""
    return dds_topic[2:] if dds_topic.startswith("rt/") else None


@cache
def idl_type(msgtype: str) -> type[IdlStruct]:
    """The IDL struct rosidl generates for `msgtype` (nested types too), from rosbags' definitions."""

    def field_type(desc: tuple) -> Any:
        node, arg = desc
        if node == Nodetype.BASE:
            return _IDL_BASE_TYPES[arg[0]]
        if node == Nodetype.NAME:
            return idl_type(arg)
        if node == Nodetype.ARRAY:
            return types.array[field_type(arg[0]), arg[1]]
        return types.sequence[field_type(arg[0]), arg[1]] if arg[1] else types.sequence[field_type(arg[0])]

    fields = {name: field_type(desc) for name, desc in TYPESTORE.fielddefs[msgtype][1]}
    return make_idl_struct(msgtype.rsplit("/", 1)[1] + "_", dds_type_name(msgtype), fields)


def type_hash_user_data(msgtype: str) -> Policy.Userdata:
    """USER_DATA as rmw sets it on endpoints (REP 2011); ROS 2 Jazzy warns about endpoints without it."""
    return Policy.Userdata(f"typehash={TYPESTORE.hash_rihs01(msgtype)};".encode())


def reader_qos(qos: SubscriptionQos, msgtype: str) -> DdsQos:
    """The subscription QoS the rclpy node uses too, in DDS terms, with the type hash rmw would send."""
    return DdsQos(
        Policy.Reliability.Reliable(1_000_000_000) if qos.reliable else Policy.Reliability.BestEffort,
        Policy.Durability.TransientLocal if qos.transient_local else Policy.Durability.Volatile,
        Policy.History.KeepLast(qos.depth),
        type_hash_user_data(msgtype),
    )


def domain_id_from_env() -> int:
    """ROS_DOMAIN_ID, as ROS 2 reads it (unset or empty: 0)."""
    value = os.environ.get("ROS_DOMAIN_ID", "").strip()
    if not value:
        return 0
    if not value.isdigit() or int(value) > 232:
        raise ConfigError(f"ROS_DOMAIN_ID={value!r}: expected a domain id from 0 to 232")
    return int(value)


def cyclone_config(user_config: str | None, rmem_max: int | None) -> str:
    """The Cyclone DDS configuration to join with: the bridge's settings, then the user's `CYCLONEDDS_URI`.

    Cyclone merges a comma-separated list of configurations in order, so the user's settings win
    wherever both set one. The receive buffer asks for what the kernel allows (asking for more as a
    minimum would make Cyclone refuse to start) and up to RECEIVE_BUFFER_BYTES.
    """
    minimum = RECEIVE_BUFFER_BYTES if rmem_max is None else min(rmem_max, RECEIVE_BUFFER_BYTES)
    own = (
        '<CycloneDDS><Domain Id="any">'
        f"<Compatibility><IgnoreTypeInformation>{EPROSIMA_VENDOR_ID}</IgnoreTypeInformation></Compatibility>"
        f'<Internal><SocketReceiveBufferSize min="{minimum}B" max="{RECEIVE_BUFFER_BYTES}B"/></Internal>'
        "</Domain></CycloneDDS>"
    )
    return ",".join(filter(None, (own, user_config)))


class DdsSubscriptions:
    """The bridge's readers in one DDS domain, and discovery of the topics to add.

    The topics the config gives a kind are subscribed at once. Discovery (the DCPSPublication
    built-in topic) adds each topic a writer appears on when the bridge routes it: with `auto`,
    any supported type that include/exclude allow; without, the listed topics without a kind.
    It also keeps the graph of published topics, to say why a configured topic stays silent.
    """

    def __init__(self, bridge: Bridge, queues: LiveQueues, domain_id: int):
        self.bridge = bridge
        self.queues = queues
        if warning := capped_receive_buffer_warning():
            log.warning("%s", warning)
        try:
            self.domain = Domain(domain_id, cyclone_config(os.environ.get("CYCLONEDDS_URI"), kernel_receive_buffer_max()))
            self.participant = DomainParticipant(domain_id)
        except DDSException as err:
            raise DdsError(f"cannot join DDS domain {domain_id} (check CYCLONEDDS_URI): {err}") from None
        self.waitset = WaitSet(self.participant)
        self.discovery = BuiltinDataReader(self.participant, BuiltinTopicDcpsPublication)
        self.waitset.attach(ReadCondition(self.discovery, ANY_SAMPLE))
        self.discovers = needs_discovery(bridge.config)
        self.graph: dict[str, set[str]] = defaultdict(set)  # ROS topic -> the message types published on it
        self.readers: dict[str, tuple[Route, DataReader]] = {}
        for topic, msgtype in typed_topics(bridge.config):
            self.subscribe(topic, msgtype)

    def subscribe(self, topic: str, msgtype: str) -> None:
        """Add a reader for `topic` unless it has one or the bridge does not route it."""
        if topic in self.readers or (route := self.bridge.route(topic, msgtype)) is None:
            return
        qos = subscription_qos(route)
        dds_topic = Topic(self.participant, "rt" + topic, idl_type(msgtype))
        reader = DataReader(self.participant, dds_topic, qos=reader_qos(qos, msgtype))
        self.waitset.attach(ReadCondition(reader, ANY_SAMPLE))
        self.readers[topic] = (route, reader)
        log.info("%s: subscribed (%s, %s)", topic, msgtype, "reliable" if qos.reliable else "best effort")

    def report_silent_topics(self) -> bool:
        """Warn about each configured topic that has had no message, and why; True once done."""
        for warning in silent_topic_warnings(self.bridge.config, self.bridge.stats, self.graph):
            log.warning("%s", warning)
        return True

    def poll(self, timeout_s: float) -> None:
        """Wait for data or discoveries, then queue every sample that is there."""
        if self.waitset.wait(int(timeout_s * 1e9)) == 0:
            return
        for endpoint in self.discovery.take(TAKE_MAX):
            topic, msgtype = ros_topic_name(endpoint.topic_name or ""), ros_type_name(endpoint.type_name or "")
            if topic and msgtype:
                self.graph[topic].add(msgtype)
                if self.discovers:
                    self.subscribe(topic, msgtype)
        for route, reader in list(self.readers.values()):
            samples = ddspy_take(reader._ref, ANY_SAMPLE, TAKE_MAX)
            if isinstance(samples, int):  # a DDS return code
                self.bridge.warn_once(route.topic, f"cannot take samples: {DDSException(samples)}")
                continue
            for data, info in samples:
                if info.valid_data:
                    self.queues.push(route, data, sent_ns=info.source_timestamp)


def run_live(
    bridge: Bridge, domain_id: int | None = None, duration: float | None = None, stop: threading.Event | None = None
) -> None:
    """Bridge live topics until Ctrl-C, `duration` seconds or `stop`; converts what was received before returning.

    The domain defaults to ROS_DOMAIN_ID's (cyclonedds itself does not read it); Cyclone DDS reads
    its network configuration from CYCLONEDDS_URI.
    """
    queues = LiveQueues(bridge, TYPESTORE.deserialize_cdr)
    subscriptions = DdsSubscriptions(bridge, queues, domain_id_from_env() if domain_id is None else domain_id)
    log.info("listening on DDS domain %d", subscriptions.participant.domain_id)
    began = time.monotonic()
    report = _Reporter(bridge, began)
    silence_reported = False
    try:
        while stop is None or not stop.is_set():
            elapsed = time.monotonic() - began
            left = None if duration is None else duration - elapsed
            if left is not None and left <= 0:
                break
            subscriptions.poll(WAIT_S if left is None else min(WAIT_S, left))
            report.maybe()
            if not silence_reported and elapsed >= SILENCE_CHECK_S:
                silence_reported = subscriptions.report_silent_topics()
        subscriptions.poll(0)  # what arrived while the last wait ended
    finally:
        if not silence_reported:
            subscriptions.report_silent_topics()
        queues.close()
        del subscriptions  # leaves the domain: the participant and its readers go with their last reference


class _Reporter:
    """Logs each topic's counters every REPORT_PERIOD_S, with the rate received since the last report."""

    def __init__(self, bridge: Bridge, now: float):
        self.bridge = bridge
        self.last = now
        self.received: dict[str, int] = {}

    def maybe(self) -> None:
        now = time.monotonic()
        if now - self.last < REPORT_PERIOD_S:
            return
        for topic in sorted(self.bridge.stats):
            stats = self.bridge.stats[topic]
            rate = (stats.received - self.received.get(topic, 0)) / (now - self.last)
            self.received[topic] = stats.received
            log.info("%s; %.1f Hz received in the last %.0f s", stats.line(topic), rate, now - self.last)
        self.last = now
