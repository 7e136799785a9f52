"""Recording settings given on the command line or as ROS parameters, over those of the config file."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Mapping

from ..config import BridgeConfig, ConfigError, ServeConfig, SinksConfig, load_config, parse_config, viewer_url


@dataclass(frozen=True)
class RecordingOverrides:
    sinks: SinksConfig = SinksConfig()  # any sink given replaces all of the file's sinks
    application_id: str | None = None
    recording_id: str | None = None

    def apply(self, config: BridgeConfig) -> BridgeConfig:
        recording = config.recording
        return replace(config, recording=replace(
            recording,
            sinks=self.sinks if self.sinks.any() else recording.sinks,
            application_id=self.application_id or recording.application_id,
            recording_id=self.recording_id or recording.recording_id,
        ))  # fmt: skip


# The ROS node's parameters with their defaults. An empty string or false leaves the config file's
# setting; the file itself gives everything else (topics, entity paths, options).
NODE_PARAMETERS: dict[str, str | bool] = {
    "config": "",  # YAML config file
    "output": "",  # write a .rrd file
    "spawn": False,  # start a native viewer and stream to it
    "connect": "",  # stream to a viewer at this URL, e.g. rerun+http://127.0.0.1:9876/proxy
    "serve": False,  # serve gRPC (port 9876) and a web viewer (port 9090)
    "application_id": "",
    "recording_id": "",
    "namespaces": "",  # a fleet's robots: /robot1,/robot2 (or a string array); replaces the config's `namespaces`
    "shared_frames": "",  # with namespaces: frames every robot shares (map), left unprefixed; replaces the config's
    "keep_frame_names": False,  # with namespaces: frames are distinct already, and the global /tf is bridged too
}


def node_config(parameters: Mapping[str, str | bool]) -> BridgeConfig:
    """The node's configuration: the `config` file (or the defaults), under the parameters that are set.

    Raises `ConfigError` for an invalid file, and when no sink is left to send the recording to.
    """
    path = str(parameters["config"])
    config = load_config(Path(path).expanduser()) if path else BridgeConfig()
    output = str(parameters["output"])
    overrides = RecordingOverrides(
        sinks=SinksConfig(
            file=Path(output).expanduser() if output else None,
            spawn=bool(parameters["spawn"]),
            connect=viewer_url(str(parameters["connect"])) if parameters["connect"] else None,
            serve=ServeConfig() if parameters["serve"] else None,
        ),
        application_id=str(parameters["application_id"]) or None,
        recording_id=str(parameters["recording_id"]) or None,
    )
    config = overrides.apply(config)
    if namespaces := _items(parameters["namespaces"]):
        config = replace(config, namespaces=parse_config({"namespaces": namespaces}).namespaces)
    if shared_frames := _items(parameters["shared_frames"]):
        config = replace(config, shared_frames=parse_config({"shared_frames": shared_frames}).shared_frames)
    if parameters["keep_frame_names"]:
        config = replace(config, prefix_frames=False)
    if not config.recording.sinks.any():
        raise ConfigError(
            f"{path or 'no config file'}: nowhere to send the recording: set recording.sinks in the config, "
            "or the output, spawn, connect or serve parameter"
        )
    return config


def _items(parameter: str | bool) -> list[str]:
    """A list parameter's items: `/robot1,/robot2` (the node joins a string array so)."""
    return [item for item in re.split(r"[,\s]+", str(parameter)) if item]
