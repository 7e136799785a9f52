"""Launch the Rerun bridge node.

    ros2 launch ros2_rerun_bridge bridge.launch.py
    ros2 launch ros2_rerun_bridge bridge.launch.py config:=/path/to/cameras.yaml output:=run.rrd

`config` defaults to the package's config/rgbd_camera.yaml. The other arguments override the
config's recording settings when set: any of output, spawn, connect, serve replaces all its sinks.
"""

import os

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node
from launch_ros.parameter_descriptions import ParameterValue

PACKAGE = "ros2_rerun_bridge"

# Launch argument (= node parameter): type, default, description. "" and false leave the config's setting.
OVERRIDES = {
    "output": (str, "", "write the recording to this .rrd file"),
    "spawn": (bool, "false", "start a native Rerun viewer and stream to it"),
    "connect": (str, "", "stream to a Rerun viewer at this URL, e.g. rerun+http://127.0.0.1:9876/proxy"),
    "serve": (bool, "false", "serve gRPC on port 9876 and a web viewer on port 9090"),
    "application_id": (str, "", "Rerun application id"),
    "recording_id": (str, "", "Rerun recording id (recordings with the same id merge in the viewer)"),
    "namespaces": (str, "", "a fleet's robots' ROS namespaces, e.g. /robot1,/robot2 (see the README's Fleets)"),
    "shared_frames": (str, "", "with namespaces: frames every robot shares, left unprefixed, e.g. map"),
    "keep_frame_names": (bool, "false", "with namespaces: leave frame names as they are, and bridge the global /tf"),
}


def generate_launch_description() -> LaunchDescription:
    default_config = os.path.join(get_package_share_directory(PACKAGE), "config", "rgbd_camera.yaml")
    arguments = [DeclareLaunchArgument("config", default_value=default_config, description="YAML config file")]
    arguments += [
        DeclareLaunchArgument(name, default_value=default, description=description)
        for name, (_, default, description) in OVERRIDES.items()
    ]
    # Typed explicitly: launch would otherwise read a recording id such as 42 as an integer.
    parameters = {"config": ParameterValue(LaunchConfiguration("config"), value_type=str)}
    parameters.update(
        {name: ParameterValue(LaunchConfiguration(name), value_type=kind) for name, (kind, _, _) in OVERRIDES.items()}
    )
    node = Node(
        package=PACKAGE, executable="bridge_node", name="rerun_bridge", output="screen", parameters=[parameters]
    )
    return LaunchDescription([*arguments, node])
