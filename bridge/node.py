"""`bridge_node`: the ROS 2 node, a thin rclpy adapter over the transport-free core.

    ros2 run ros2_rerun_bridge bridge_node --ros-args -p config:=cameras.yaml -p output:=run.rrd

Subscription callbacks only queue the message (`LiveQueues.push`); conversion and logging run
on the queues' worker threads, so the executor is never blocked by Rerun.
"""

from __future__ import annotations

import logging
import sys
from functools import partial
from typing import Any

import rclpy
from rclpy.exceptions import InvalidParameterTypeException
from rclpy.executors import ExternalShutdownException
from rclpy.impl.rcutils_logger import RcutilsLogger
from rclpy.logging import get_logger
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CameraInfo, CompressedImage, Image
from tf2_msgs.msg import TFMessage

from .config import CAMERA_INFO_TYPE, COMPRESSED_TYPE, IMAGE_TYPE, TF_TYPE, ConfigError
from .core import Bridge, LiveQueues
from .core.overrides import NODE_PARAMETERS, node_config
from .core.subscriptions import SubscriptionQos, needs_discovery, subscription_qos, typed_topics
from .sinks import Recording, SinkError
from .sinks.blueprint import configured_blueprint

NODE_NAME = "rerun_bridge"
MESSAGE_CLASSES: dict[str, type] = {
    IMAGE_TYPE: Image,
    COMPRESSED_TYPE: CompressedImage,
    CAMERA_INFO_TYPE: CameraInfo,
    TF_TYPE: TFMessage,
}
DISCOVERY_PERIOD_SEC = 2.0
SUMMARY_PERIOD_SEC = 5.0

log = logging.getLogger("ros2_rerun_bridge")


class BridgeNode(Node):
    """Subscribes to the configured (and, with `auto`, discovered) camera and TF topics."""

    def __init__(self, **node_options: Any):
        """`node_options` go to rclpy's Node (e.g. `context`, `parameter_overrides`)."""
        super().__init__(NODE_NAME, **node_options)
        parameters = {name: self.declare_parameter(name, default).value for name, default in NODE_PARAMETERS.items()}
        config = node_config(parameters)
        self._log_handler = _RosLogHandler(self.get_logger())
        log.addHandler(self._log_handler)
        log.setLevel(int(self.get_logger().get_effective_level()))
        self.recording = Recording(config.recording)
        if (layout := configured_blueprint(config)) is not None:
            self.recording.send_blueprint(layout)
        self.bridge = Bridge(config, self.recording)
        self.queues = LiveQueues(self.bridge, deserialize=None, clock=lambda: self.get_clock().now().nanoseconds)
        self._subscribed: set[tuple[str, str]] = set()
        for topic, msgtype in typed_topics(config):
            self._subscribe(topic, msgtype)
        if needs_discovery(config):
            self._discover()
            self.create_timer(DISCOVERY_PERIOD_SEC, self._discover)
        self.create_timer(SUMMARY_PERIOD_SEC, self._log_summary)

    def close(self) -> None:
        """Convert what is queued, complete the recording (a .rrd gets its footer) and log the totals."""
        self.queues.close()
        self.recording.close()
        self._log_summary()
        log.removeHandler(self._log_handler)

    def _subscribe(self, topic: str, msgtype: str) -> None:
        if (topic, msgtype) in self._subscribed:
            return
        route = self.bridge.route(topic, msgtype)
        if route is None:
            return
        qos = _qos_profile(subscription_qos(route))
        self.create_subscription(MESSAGE_CLASSES[msgtype], topic, partial(self.queues.push, route), qos)
        self._subscribed.add((topic, msgtype))
        self.get_logger().info(f"bridging {topic} ({msgtype}) to {route.entity_path}")

    def _discover(self) -> None:
        for topic, msgtypes in self.get_topic_names_and_types():
            for msgtype in msgtypes:
                self._subscribe(topic, msgtype)

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


def main(args: list[str] | None = None) -> int:
    """Run until Ctrl-C or SIGTERM (rclpy's signal handlers shut the context down), then close the recording."""
    rclpy.init(args=args)
    try:
        node = BridgeNode()
    except (ConfigError, SinkError, InvalidParameterTypeException) as err:
        get_logger(NODE_NAME).fatal(str(err))
        rclpy.try_shutdown()
        return 2
    try:
        rclpy.spin(node)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        node.close()
        node.destroy_node()
        rclpy.try_shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
