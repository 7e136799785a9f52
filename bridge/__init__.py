"""ros2_rerun_bridge: ROS 2 camera and depth streams into Rerun, live or from rosbag2 recordings."""

__version__ = "0.1.0"
