"""The transport-free core: routes each message to its conversion and logs the result.

Sources (bags, DDS, rclpy) only deliver messages; sinks only receive Rerun data.
"""

from .bridge import Bridge
from .live import LiveQueues
from .routes import Route, RouteError, plan_route
from .stats import TopicStats

__all__ = ["Bridge", "LiveQueues", "Route", "RouteError", "TopicStats", "plan_route"]
