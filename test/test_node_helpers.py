"""What the ROS 2 node subscribes to, with which QoS, and how its parameters meet the config file.

These are the node's decisions, kept free of rclpy so that they run where ROS is not installed.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from cli_process import REPO

from bridge.config import CAMERA_INFO_TYPE, COMPRESSED_TYPE, IMAGE_TYPE, TF_TYPE, ConfigError, ServeConfig, parse_config
from bridge.core import TopicStats, plan_route
from bridge.core.overrides import NODE_PARAMETERS, node_config
from bridge.core.subscriptions import SubscriptionQos, needs_discovery, silent_topic_warnings, subscription_qos, typed_topics


def _qos(document: dict, topic: str, msgtype: str) -> SubscriptionQos:
    route = plan_route(parse_config(document), topic, msgtype)
    assert route is not None
    return subscription_qos(route)


def test_camera_topics_default_to_best_effort_keeping_queue_size_frames():
    assert _qos({}, "/cam/image_raw", IMAGE_TYPE) == SubscriptionQos(reliable=False, transient_local=False, depth=2)
    reliable = {"topics": {"/cam/camera_info": {"qos": "reliable", "queue_size": 5}}}
    assert _qos(reliable, "/cam/camera_info", CAMERA_INFO_TYPE) == SubscriptionQos(True, False, 5)


def test_tf_is_reliable_and_tf_static_also_transient_local():
    assert _qos({}, "/tf", TF_TYPE) == SubscriptionQos(reliable=True, transient_local=False, depth=100)
    assert _qos({}, "/tf_static", TF_TYPE) == SubscriptionQos(reliable=True, transient_local=True, depth=100)


def test_topics_with_a_kind_are_subscribed_up_front_with_its_type():
    config = parse_config({"auto": False, "topics": {
        "/a/image_raw/compressed": {"kind": "compressed"},
        "/a/depth": {"kind": "depth"},
        "/a/camera_info": {"kind": "camera_info"},
        "/tf_static": {"kind": "tf"},
        "/b/image_raw": {"entity_path": "/b"},  # no kind: its type comes from the ROS graph
    }})  # fmt: skip
    assert sorted(typed_topics(config)) == [
        ("/a/camera_info", CAMERA_INFO_TYPE),
        ("/a/depth", IMAGE_TYPE),
        ("/a/image_raw/compressed", COMPRESSED_TYPE),
        ("/tf_static", TF_TYPE),
    ]


def test_the_graph_is_watched_for_auto_and_for_listed_topics_without_a_kind():
    assert needs_discovery(parse_config({}))
    assert not needs_discovery(parse_config({"auto": False, "topics": {"/a": {"kind": "image"}}}))
    assert needs_discovery(parse_config({"auto": False, "topics": {"/a": {"kind": "image"}, "/b": {}}}))


def _parameters(**values: str | bool) -> dict[str, str | bool]:
    return {**NODE_PARAMETERS, **values}


def _write_config(directory: Path) -> Path:
    path = directory / "bridge.yaml"
    path.write_text(
        "recording: {application_id: robot, sinks: {file: robot.rrd, spawn: true}}\n"
        "topics: {/cam/image_raw: {kind: image}}\n"
    )
    return path


def test_node_keeps_the_config_file_settings_when_no_parameter_is_set(tmp_path):
    config = node_config(_parameters(config=str(_write_config(tmp_path))))
    assert config.recording.application_id == "robot"
    assert config.recording.sinks.file == tmp_path / "robot.rrd"
    assert config.recording.sinks.spawn
    assert list(config.topics) == ["/cam/image_raw"]


def test_node_sink_parameters_replace_all_the_config_sinks(tmp_path):
    config = node_config(_parameters(
        config=str(_write_config(tmp_path)), output="out.rrd", serve=True, application_id="ci", recording_id="42",
    ))  # fmt: skip
    sinks = config.recording.sinks
    assert (sinks.file, sinks.spawn, sinks.connect, sinks.serve) == (Path("out.rrd"), False, None, ServeConfig())
    assert (config.recording.application_id, config.recording.recording_id) == ("ci", "42")
    assert list(config.topics) == ["/cam/image_raw"]  # the file still gives the topics


def test_node_without_config_file_runs_on_defaults_with_a_sink_parameter():
    config = node_config(_parameters(connect="rerun+http://127.0.0.1:9876/proxy"))
    assert config.auto and not config.topics
    assert config.recording.sinks.connect == "rerun+http://127.0.0.1:9876/proxy"


def test_node_without_any_sink_is_a_config_error_naming_the_parameters():
    with pytest.raises(ConfigError, match="no config file: nowhere to send.*output, spawn, connect or serve"):
        node_config(_parameters())


def test_node_with_an_invalid_config_file_names_the_file_and_key(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("topics: {/cam/depth: {meter: -1}}\n")
    with pytest.raises(ConfigError, match=r"bad\.yaml: topics\./cam/depth\.meter"):
        node_config(_parameters(config=str(path), output="out.rrd"))


def test_silent_configured_topics_are_named_with_the_reason():
    config = parse_config({"auto": False, "topics": {
        "/cam/image_raw": {"kind": "image"},  # published under another namespace
        "/cam/depth": {"kind": "depth"},  # published with another type
        "/cam/info": {"kind": "camera_info", "qos": "reliable"},  # published, nothing arrives
        "/cam/ok": {"kind": "image"},  # heard from
    }})  # fmt: skip
    graph = {"/robot/cam/image_raw": {IMAGE_TYPE}, "/cam/depth": {COMPRESSED_TYPE}, "/cam/info": {CAMERA_INFO_TYPE},
             "/cam/ok": {IMAGE_TYPE}, "/rosout": {"rcl_interfaces/msg/Log"}}  # fmt: skip
    warnings = silent_topic_warnings(config, {"/cam/ok": TopicStats(received=3)}, graph)
    assert warnings == [
        "/cam/image_raw: no publisher (camera and TF topics published: /cam/depth, /cam/info, /cam/ok, /robot/cam/image_raw)",
        f"/cam/depth: published as {COMPRESSED_TYPE}, not {IMAGE_TYPE} (its kind)",
        "/cam/info: published, but nothing arrived: a best-effort publisher does not match the reliable "
        "subscription its `qos: reliable` asks for",
    ]


def test_bridge_node_without_ros_says_what_to_do():
    hide_rclpy = "import sys; sys.modules['rclpy'] = None; from bridge.node import main"  # as where ROS is not installed
    result = subprocess.run([sys.executable, "-c", hide_rclpy], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert "bridge_node needs ROS 2's rclpy" in result.stderr and "ros2-rerun-bridge live" in result.stderr
    assert "Traceback" not in result.stderr
