"""`bridge_node`: the ROS 2 node, a thin rclpy adapter over the transport-free core.

    ros2 run ros2_rerun_bridge bridge_node --ros-args -p config:=cameras.yaml -p output:=run.rrd

Subscription callbacks only queue the message (`LiveQueues.push`); conversion and logging run
on the queues' worker threads, so the executor is never blocked by Rerun.
"""

from __future__ import annotations

import logging
import signal
import sys
from functools import partial
from typing import Any

try:
    import rclpy
    from rclpy.exceptions import ParameterException
    from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
    from rclpy.impl.rcutils_logger import RcutilsLogger
    from rclpy.logging import get_logger
    from rclpy.node import Node
    from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
    from rclpy.signals import SignalHandlerOptions
    from rclpy.subscription import Subscription
    from rcl_interfaces.msg import ParameterDescriptor
    from sensor_msgs.msg import CameraInfo, CompressedImage, Image
except ImportError as err:
    raise SystemExit(
        f"bridge_node needs ROS 2's rclpy and sensor_msgs ({err}): source your ROS 2 installation, e.g. "
        "`source /opt/ros/jazzy/setup.bash`. Without ROS, `ros2-rerun-bridge live` reads the same topics over DDS."
    ) from None

from .config import CAMERA_INFO_TYPE, COMPRESSED_TYPE, COMPRESSED_VIDEO_TYPE, FFMPEG_PACKET_TYPE, IMAGE_TYPE, TF_TYPE, ConfigError
from .core import Bridge, LiveQueues
from .core.overrides import NODE_PARAMETERS, node_config
from .core.subscriptions import SubscriptionQos, needs_discovery, silent_topic_warnings, subscription_qos, typed_topics
from .sinks import Recording, SinkError
from .sources.receive_buffer import capped_receive_buffer_warning
from .sinks.blueprint import configured_blueprint
from .streams import check_encoders

try:
    from tf2_msgs.msg import TFMessage
except ImportError:  # TF is optional: cameras are still shown, in 2D and each in its own frame
    TFMessage = None

NODE_NAME = "rerun_bridge"
MESSAGE_CLASSES: dict[str, type] = {IMAGE_TYPE: Image, COMPRESSED_TYPE: CompressedImage, CAMERA_INFO_TYPE: CameraInfo}
if TFMessage is not None:
    MESSAGE_CLASSES[TF_TYPE] = TFMessage
try:  # encoded video: subscribed where its message package is installed
    from foxglove_msgs.msg import CompressedVideo

    MESSAGE_CLASSES[COMPRESSED_VIDEO_TYPE] = CompressedVideo
except ImportError:
    pass
try:
    from ffmpeg_image_transport_msgs.msg import FFMPEGPacket

    MESSAGE_CLASSES[FFMPEG_PACKET_TYPE] = FFMPEGPacket
except ImportError:
    pass
DISCOVERY_PERIOD_SEC = 1.0
SUMMARY_PERIOD_SEC = 5.0
SILENCE_CHECK_SEC = 5.0  # after this long, configured topics without a message are reported
SPIN_PERIOD_SEC = 0.2  # longest wait before a signal is noticed
# Humble's rclpy calls every subscription callback with the message alone; later ones can add its info.
_MESSAGE_INFO = hasattr(Subscription, "CallbackType")

log = logging.getLogger("ros2_rerun_bridge")


class BridgeNode(Node):
    """Subscribes to the configured (and, with `auto`, discovered) camera and TF topics."""

    def __init__(self, **node_options: Any):
        """`node_options` go to rclpy's Node (e.g. `context`, `parameter_overrides`)."""
        super().__init__(NODE_NAME, **node_options)
        config = node_config({name: self._declare(name, default) for name, default in NODE_PARAMETERS.items()})
        self._log_handler = _RosLogHandler(self.get_logger())
        log.addHandler(self._log_handler)
        log.setLevel(int(self.get_logger().get_effective_level()))
        check_encoders(config)  # before the recording opens: a missing encoder writes no file
        self.recording = Recording(config.recording)
        if (layout := configured_blueprint(config)) is not None:
            self.recording.send_blueprint(layout)
        self.bridge = Bridge(config, self.recording)
        if warning := capped_receive_buffer_warning():
            log.warning("%s, and the RMW's receive buffer", warning)
        self.queues = LiveQueues(self.bridge, deserialize=None, clock=lambda: self.get_clock().now().nanoseconds)
        self._subscribed: set[tuple[str, str]] = set()
        for topic, msgtype in typed_topics(config):
            self._subscribe(topic, msgtype)
        discovering = needs_discovery(config)
        if discovering:
            self._discover()
            self.create_timer(DISCOVERY_PERIOD_SEC, self._discover)
        self.create_timer(SUMMARY_PERIOD_SEC, self._log_summary)
        self._silence_check = self.create_timer(SILENCE_CHECK_SEC, self._report_silent_topics)
        # What a launch file or a test can wait for: from here on, no camera that appears misses a frame to start-up.
        self.get_logger().info(f"ready: subscribed to {len(self._subscribed)} topics"
                               + (f", looking for camera topics every {DISCOVERY_PERIOD_SEC:g} s" if discovering else ""))  # fmt: skip

    def close(self) -> None:
        """Convert what is queued, complete the recording (a .rrd gets its footer) and log the totals.

        Called while the context is still valid, so that the totals reach /rosout and the log files too.
        """
        if not self._silence_check.is_canceled():
            self._report_silent_topics()
        self.queues.close()
        self.bridge.close()
        self.recording.close(keep_file=self.bridge.logged_anything)
        self._log_summary()
        if self.recording.failure is not None:
            log.error("the recording stopped taking data (%s): it holds only what was written before", self.recording.failure)
        elif not self.bridge.logged_anything:
            log.warning("nothing was recorded%s", ": no file written" if self.recording.output is not None else "")
        log.removeHandler(self._log_handler)

    def _declare(self, name: str, default: str | bool) -> str | bool:
        """A string parameter takes any scalar (`recording_id:=42` is read as an integer) as its text, and a list
        (`namespaces:="[/robot1, /robot2]"`) as its items separated by commas."""
        if isinstance(default, bool):
            return self.declare_parameter(name, default).value
        value = self.declare_parameter(name, default, ParameterDescriptor(dynamic_typing=True)).value
        if isinstance(value, (list, tuple)):
            return ",".join(map(str, value))
        return "" if value is None else str(value)

    def _subscribe(self, topic: str, msgtype: str) -> None:
        if (topic, msgtype) in self._subscribed:
            return
        route = self.bridge.route(topic, msgtype)
        if route is None:
            return
        self._subscribed.add((topic, msgtype))
        if msgtype not in MESSAGE_CLASSES:
            package = msgtype.split("/")[0]
            self.bridge.warn_once(topic, f"not bridged: {package} is not installed (install ros-$ROS_DISTRO-{package.replace('_', '-')})")
            return
        qos = _qos_profile(subscription_qos(route))
        if _MESSAGE_INFO:
            callback = partial(self._receive, route)
        else:
            callback = partial(self._receive_without_info, route)
        self.create_subscription(MESSAGE_CLASSES[msgtype], topic, callback, qos)
        self.get_logger().info(f"bridging {topic} ({msgtype}) to {route.entity_path}")

    def _receive(self, route: Any, msg: Any, info: dict) -> None:
        self.queues.push(route, msg, sent_ns=info.get("source_timestamp"))

    def _receive_without_info(self, route: Any, msg: Any) -> None:
        self.queues.push(route, msg)

    def _discover(self) -> None:
        for topic, msgtypes in self.get_topic_names_and_types():
            for msgtype in msgtypes:
                self._subscribe(topic, msgtype)

    def _report_silent_topics(self) -> None:
        self._silence_check.cancel()
        graph = {  # topics with a publisher (the graph's topics include those the node itself subscribes to)
            topic: {info.topic_type for info in self.get_publishers_info_by_topic(topic)}
            for topic, _ in self.get_topic_names_and_types()
        }
        for warning in silent_topic_warnings(self.bridge.config, self.bridge.stats, graph):
            log.warning("%s", warning)

    def _log_summary(self) -> None:
        lines = self.bridge.summary()
        if not lines:
            self.get_logger().info(f"no messages yet on the {len(self._subscribed)} subscribed topics")
        for line in lines:
            self.get_logger().info(line)


class _RosLogHandler(logging.Handler):
    """Sends the core's Python log records to the node's ROS logger (console, /rosout, log files)."""

    def __init__(self, logger: RcutilsLogger):
        super().__init__()
        self._logger = logger

    def emit(self, record: logging.LogRecord) -> None:
        message = self.format(record)
        # One call site per severity: rclpy refuses a call site whose severity changes between calls.
        if record.levelno >= logging.ERROR:
            self._logger.error(message)
        elif record.levelno >= logging.WARNING:
            self._logger.warning(message)
        elif record.levelno >= logging.INFO:
            self._logger.info(message)
        else:
            self._logger.debug(message)


def _qos_profile(qos: SubscriptionQos) -> QoSProfile:
    return QoSProfile(
        history=HistoryPolicy.KEEP_LAST,
        depth=qos.depth,
        reliability=ReliabilityPolicy.RELIABLE if qos.reliable else ReliabilityPolicy.BEST_EFFORT,
        durability=DurabilityPolicy.TRANSIENT_LOCAL if qos.transient_local else DurabilityPolicy.VOLATILE,
    )


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main(args: list[str] | None = None) -> int:
    """Run until Ctrl-C or SIGTERM, then complete the recording and log the totals, and only then shut down.

    rclpy's own signal handlers would shut the context down first, and everything logged after that
    (the totals, a last warning) would fail to reach /rosout.
    """
    rclpy.init(args=args, signal_handler_options=SignalHandlerOptions.NO)
    previous = {signum: signal.signal(signum, _interrupt) for signum in (signal.SIGINT, signal.SIGTERM)}
    node = None
    try:
        node = BridgeNode()
        executor = SingleThreadedExecutor()
        executor.add_node(node)
        while rclpy.ok():
            executor.spin_once(timeout_sec=SPIN_PERIOD_SEC)
    except (ConfigError, SinkError, ParameterException) as err:
        for problem in str(err).splitlines():  # a config's problems: a line each
            get_logger(NODE_NAME).fatal(problem)
        return 2
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        if node is not None:
            node.close()
            node.destroy_node()
        rclpy.try_shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
