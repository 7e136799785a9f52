"""`ros2-rerun-bridge check-config`: valid files pass; every invalid one exits 2 naming the file and the key path."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bridge.cli import main
from bridge.config import VIEWER_FORMS, BridgeConfig, ConfigError, ServeConfig, catalog_url, load_config, viewer_url

REPO = Path(__file__).resolve().parents[1]

VALID = """
recording:
  application_id: my_robot
  sinks:
    file: robot.rrd
    serve: {grpc_port: 9877, web_port: null}
auto: false
include: ['/camera/.*']
exclude: ['.*/ir/.*']
topics:
  /camera/depth/image_rect_raw:
    entity_path: /camera/depth
    kind: depth
    meter: 1000
    colormap: turbo
    depth_range: [0.2, 5.0]
    max_rate: 15
  /camera/color/camera_info:
    intrinsics: P
    frame_id: camera_color_optical_frame
  /camera/color/image_raw/compressed: {kind: compressed, qos: reliable, queue_size: 4}
"""

# (what is wrong, file content, what the message must say after the file name)
INVALID = [
    ("unknown key", "topics:\n  /camera/depth:\n    metre: 1000\n", "topics./camera/depth.metre: unknown key"),
    ("unknown top-level key", "topic:\n  /camera/depth: {}\n", "topic: unknown key"),
    ("unknown sink", "recording:\n  sinks: {viewer: true}\n", "recording.sinks.viewer: unknown key"),
    ("wrong type", "auto: 'yes'\n", "auto: expected a boolean, got a string"),
    ("wrong nested type", "topics:\n  /camera/depth: {max_rate: fast}\n", "topics./camera/depth.max_rate: expected a number"),
    ("topics not a mapping", "topics: [/camera/depth]\n", "topics: expected a mapping, got a list"),
    ("negative meter", "topics:\n  /camera/depth: {meter: -1000}\n", "topics./camera/depth.meter: expected a positive"),
    ("zero max_rate", "topics:\n  /camera/depth: {max_rate: 0}\n", "topics./camera/depth.max_rate: expected a positive"),
    ("empty depth range", "topics:\n  /camera/depth: {depth_range: [5, 1]}\n", "topics./camera/depth.depth_range: expected [min, max]"),
    ("unknown kind", "topics:\n  /camera/depth: {kind: pointcloud}\n", "topics./camera/depth.kind: 'pointcloud' is not one of"),
    ("unknown colormap", "topics:\n  /camera/depth: {colormap: rainbow}\n", "topics./camera/depth.colormap: 'rainbow' is not one of"),
    ("relative topic name", "topics:\n  camera/depth: {}\n", "topics.camera/depth: topic names are absolute"),
    ("bad regex", "include: ['/camera/(']\n", "include: '/camera/(' is not a regular expression"),
    ("bad port", "recording:\n  sinks:\n    serve: {grpc_port: 70000}\n", "recording.sinks.serve.grpc_port: expected an integer from 1 to 65535, got 70000"),
    ("zero queue", "topics:\n  /camera/depth: {queue_size: 0}\n", "topics./camera/depth.queue_size: expected an integer from 1 to 1000, got 0"),
    ("invalid YAML", "topics:\n  /camera/depth: {meter: 1000\n", "not valid YAML"),
    ("duplicate topic", "topics:\n  /camera/depth: {meter: 1000}\n  /camera/depth: {meter: 1}\n", "duplicate key '/camera/depth'"),
]  # fmt: skip


def check_config(path: Path) -> int:
    return main(["check-config", str(path)])


def test_a_valid_config_passes(tmp_path, capsys):
    path = tmp_path / "bridge.yaml"
    path.write_text(VALID)
    assert check_config(path) == 0
    assert capsys.readouterr().out == f"{path}: valid (3 topics configured, auto=off)\n"


def test_an_empty_config_is_the_default(tmp_path, capsys):
    path = tmp_path / "empty.yaml"
    path.write_text("")
    assert check_config(path) == 0
    assert "valid (0 topics configured, auto=on)" in capsys.readouterr().out


@pytest.mark.parametrize(("content", "message"), [(c, m) for _, c, m in INVALID], ids=[name for name, _, _ in INVALID])
def test_an_invalid_config_exits_2_naming_file_and_key(tmp_path, caplog, content, message):
    path = tmp_path / "bridge.yaml"
    path.write_text(content)
    assert check_config(path) == 2
    (error,) = [r.getMessage() for r in caplog.records]
    assert error.startswith(f"{path}: ") and message in error, error


def test_a_missing_config_file(tmp_path, caplog):
    path = tmp_path / "nowhere.yaml"
    assert check_config(path) == 2
    assert f"{path}: cannot read" in caplog.text


def test_replay_with_an_invalid_config_stops_before_writing(tmp_path, caplog):
    config = tmp_path / "bridge.yaml"
    config.write_text("topics:\n  /camera/depth: {meter: -1}\n")
    assert main(["replay", str(tmp_path / "bag"), "-c", str(config), "-o", str(tmp_path / "out.rrd")]) == 2
    assert "topics./camera/depth.meter" in caplog.text
    assert not (tmp_path / "out.rrd").exists()


def test_check_config_as_a_real_process(tmp_path):
    path = tmp_path / "bridge.yaml"
    path.write_text("topics:\n  /camera/depth: {depth_range: [5, 1]}\n")
    done = subprocess.run(
        [sys.executable, "-m", "bridge", "check-config", str(path)],
        cwd=REPO, capture_output=True, text=True, timeout=60, env={**os.environ, "PYTHONPATH": str(REPO)},
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.strip() == f"ERROR: {path}: topics./camera/depth.depth_range: expected [min, max] with min < max, got [5, 1]"


# Six problems in keys checked each by itself; and a colour camera that is not bridged only because the include
# pattern meant to take it has a problem (and is left out): that is not said.
SIX_PROBLEMS = """
recording:
  sinks: {serve: {grpc_port: 70000}}
topic: {}
topics:
  /camera/color: {kind: colour}
  /camera/depth: {meter: -1, colormap: rainbow, register: /camera/color}
include: [/camera/depth, '/camera/(color']
"""


def test_every_problem_is_a_line_naming_the_file_and_key(tmp_path):
    path = tmp_path / "bridge.yaml"
    path.write_text(SIX_PROBLEMS)
    done = subprocess.run(
        [sys.executable, "-m", "bridge", "check-config", str(path)],
        cwd=REPO, capture_output=True, text=True, timeout=60, env={**os.environ, "PYTHONPATH": str(REPO)},
    )  # fmt: skip
    assert done.returncode == 2 and done.stdout == ""
    keys = [line.removeprefix(f"ERROR: {path}: ").split(": ", 1)[0] for line in done.stderr.splitlines()]
    assert keys == ["topic", "recording.sinks.serve.grpc_port", "topics./camera/color.kind", "topics./camera/depth.meter",
                    "topics./camera/depth.colormap", "include"], done.stderr  # fmt: skip


def test_a_depth_topics_colour_camera_is_checked_once_the_rest_is_valid(tmp_path):
    path = write_config(tmp_path, "auto: false\ntopics:\n  /camera/depth: {register: /camera/color, meter: 0}\n")
    with pytest.raises(ConfigError) as raised:
        load_config(path)
    assert raised.value.args == (f"{path}: topics./camera/depth.meter: expected a positive finite number, got 0",)
    path.write_text("auto: false\ntopics:\n  /camera/depth: {register: /camera/color}\n")
    with pytest.raises(ConfigError, match=r"register\.to: /camera/color is not bridged"):
        load_config(path)

# -- files that crashed the loader (fuzzing): each is a ConfigError naming the file, then the key path ------------
# (or, for what YAML cannot even read, the line and column), on one line.

DEEP = "[" * 5000 + "]" * 5000
# Each level ten aliases of the one before: 10^9 strings, were they expanded.
LAUGHS = "".join(f"    - &l{i} [{', '.join([f'*l{i - 1}'] * 10) if i else 'lol'}]\n" for i in range(9))
# A mapping of 1,000 keys merged 100 times: PyYAML copies the keys at every merge.
MERGE_COPIES = "  /big: &big {" + ", ".join(f"k{i}: {i}" for i in range(1000)) + "}\n" + "".join(
    f"  /m{i}: {{<<: *big}}\n" for i in range(100)
)
# Each mapping merges the one before, and the last is merged before the others are read: PyYAML recursed once per link.
MERGE_CHAIN = "  - &m0 {/tf: {}}\n" + "".join(f"  - &m{i} {{<<: *m{i - 1}}}\n" for i in range(1, 2000)) + "topics: {<<: *m1999}\n"

CRASHES = [
    ("non-UTF-8 bytes", b"recording:\n  application_id: caf\xe9\n", "not UTF-8 text: line 2, byte 0xe9"),
    ("400-digit number", "topics:\n  /camera/depth: {meter: 1" + "0" * 399 + "}\n",
     "topics./camera/depth.meter: expected a positive finite number, got a 400-digit integer"),
    ("400-digit number in a range", "topics:\n  /camera/depth: {depth_range: [0, 1" + "0" * 399 + "]}\n",
     "topics./camera/depth.depth_range: expected [min, max] with min < max, got [0, a 400-digit integer]"),
    ("complex key", "topics:\n  ? [/a, /b]\n  : {kind: image}\n",
     "not valid YAML: line 2, column 5: a key must be a plain value, not a list"),
    ("5,000-deep nesting", f"topics:\n  /camera/depth: {{depth_range: {DEEP}}}\n",
     "not valid YAML: line 2, column 61: nested more than 32 levels deep"),
    ("5,000-digit port", "recording:\n  sinks:\n    serve: {grpc_port: " + "9" * 5000 + "}\n",
     "recording.sinks.serve.grpc_port: expected an integer, got an integer too long to read (5000 characters)"),
    ("regex repeat past re's limit", "include: ['a{99999999999}']\n",
     "include: 'a{99999999999}' is not a regular expression: a number in it is too large"),
    ("regex repeat of 5,000 digits", "include: ['a{" + "9" * 5000 + "}']\n",
     f"include: {'a{' + '9' * 118!r}... is not a regular expression: a number in it is too large"),
    ("regex nested past re's recursion", f"exclude: ['{'(' * 3000}{')' * 3000}']\n",
     f"exclude: {'(' * 120!r}... is not a regular expression: nested too deeply"),
    ("aliases of aliases", f"topics:\n  /camera/depth:\n    depth_range:\n{LAUGHS}",
     "topics./camera/depth.depth_range: expected [min, max] with min < max, got a list"),
    ("merges copying keys", f"topics:\n{MERGE_COPIES}", "not valid YAML: line 13, column 9: `<<` merges copy more than 10000 keys"),
    ("merges of merges", f"defaults:\n{MERGE_CHAIN}", "not valid YAML: line 1970, column 5: nested more than 32 levels deep"),
    ("python tag", "recording:\n  application_id: !!python/object/apply:os.system [echo]\n",
     "not valid YAML: line 2, column 19: the tag !!python/object/apply:os.system is not allowed: a config holds plain values"),
    ("integer topic key", "topics:\n  123: {kind: image}\n", "topics.123: topic names are absolute, like /camera/color/image_raw"),
    ("null topic key", "topics:\n  null: {kind: image}\n", "topics.null: topic names are absolute, like /camera/color/image_raw"),
    ("boolean topic key", "topics:\n  yes: {kind: image}\n", "topics.true: topic names are absolute, like /camera/color/image_raw"),
    ("bind not an address", "recording:\n  sinks:\n    serve: {bind: robot.local}\n",
     "recording.sinks.serve.bind: expected an IPv4 address, such as 0.0.0.0 (every interface) or 127.0.0.1 "
     "(this machine only), got 'robot.local'"),
    ("bind IPv6", "recording:\n  sinks:\n    serve: {bind: '::'}\n",
     "recording.sinks.serve.bind: expected an IPv4 address, such as 0.0.0.0 (every interface) or 127.0.0.1 "
     "(this machine only), got '::'"),
    ("web port out of range", "recording:\n  sinks:\n    serve: {web_port: -1}\n",
     "recording.sinks.serve.web_port: expected an integer from 1 to 65535, got -1"),
    ("empty application id", "recording:\n  application_id: ''\n",
     "recording.application_id: expected a non-empty string, got ''"),
    ("blank recording id", "recording:\n  recording_id: '  '\n",
     "recording.recording_id: expected a non-empty string, got '  '"),
    ("viewer at an http URL", "recording:\n  sinks: {connect: 'http://127.0.0.1:9876'}\n",
     f"recording.sinks.connect: 'http://127.0.0.1:9876' is not a viewer address (Rerun takes no http:// URLs): "
     f"expected {VIEWER_FORMS}"),
    ("viewer port out of range", "recording:\n  sinks: {connect: 98760}\n",
     "recording.sinks.connect: expected an integer from 1 to 65535, got 98760"),
    ("max_pixels zero", "topics:\n  /camera/color/image_raw/compressed: {max_pixels: 0}\n",
     "topics./camera/color/image_raw/compressed.max_pixels: expected a positive 64-bit integer, got 0"),
    ("max_pixels a number", "topics:\n  /camera/color/image_raw/compressed: {max_pixels: 8294400.0}\n",
     "topics./camera/color/image_raw/compressed.max_pixels: expected an integer, got a number"),
    ("max_pixels past 64 bits", "topics:\n  /camera/color/image_raw/compressed: {max_pixels: 1" + "0" * 30 + "}\n",
     "topics./camera/color/image_raw/compressed.max_pixels: expected a positive 64-bit integer, got a 31-digit integer"),
    # Found beyond the fuzzing report.
    ("impossible date", "recording:\n  recording_id: 2024-13-45\n",
     "not valid YAML: line 2, column 17: '2024-13-45' is not a valid !!timestamp"),
    ("date for a string", "recording:\n  recording_id: 2024-12-05\n", "recording.recording_id: expected a string, got a date"),
    ("explicit tag on a bad scalar", "auto: !!bool maybe\n", "not valid YAML: line 1, column 7: 'maybe' is not a valid !!bool"),
    ("empty explicit integer", "auto: !!int ''\n", "not valid YAML: line 1, column 7: '' is not a valid !!int"),
    ("sexagesimal integer of 50,000 parts", "auto: " + "1:" * 50_000 + "1\n",
     "auto: expected a boolean, got an integer too long to read (100001 characters)"),
    ("control character", "auto: \x07\n", "not valid YAML: line 1: character U+0007 is not allowed in YAML"),
    ("merge of itself", "topics:\n  /camera/depth: &d {kind: depth, <<: *d}\n",
     "not valid YAML: line 2, column 18: a `<<` merge includes the mapping it is in"),
    ("huge string in a message", "topics:\n  /camera/depth: {kind: " + "x" * 100_000 + "}\n",
     f"topics./camera/depth.kind: {'x' * 120!r}... is not one of: image, depth, compressed, compressed_depth, camera_info, tf, compressed_video, ffmpeg_packet"),
    ("newline in a topic name", 'topics:\n  "/camera/depth\\n": {meter: 0}\n',
     "topics.'/camera/depth\\n'.meter: expected a positive finite number, got 0"),
    ("queue beyond memory", "topics:\n  /camera/depth: {queue_size: 100000000000}\n",
     "topics./camera/depth.queue_size: expected an integer from 1 to 1000, got 100000000000"),
    ("NUL in the file sink", 'recording:\n  sinks: {file: "a\\0.rrd"}\n', "recording.sinks.file: a path cannot hold a NUL character"),
    ("serve neither true, false nor a mapping", "recording:\n  sinks: {serve: 0}\n",
     "recording.sinks.serve: expected true, false or a mapping, got an integer"),
    ("rectify neither true, false nor a mapping", "topics:\n  /camera/image_raw: {rectify: [entity_path]}\n",
     "topics./camera/image_raw.rectify: expected true, false or a mapping, got a list"),
    ("file past the size limit", "#" * (128 * 1024 + 1), "larger than 128 KiB: not a config file"),
]  # fmt: skip


def write_config(tmp_path: Path, content: str | bytes) -> Path:
    path = tmp_path / "bridge.yaml"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return path


def config_error(path: Path) -> str:
    """The message loading `path` fails with, after the file name (asserted, with the message on one line)."""
    with pytest.raises(ConfigError) as raised:
        load_config(path)
    message = str(raised.value)
    assert message.startswith(f"{path}: ") and "\n" not in message, message
    return message.removeprefix(f"{path}: ")


@pytest.mark.parametrize(("content", "message"), [(c, m) for _, c, m in CRASHES], ids=[name for name, _, _ in CRASHES])
def test_a_file_that_crashed_the_loader_is_a_config_error(tmp_path, content, message):
    assert config_error(write_config(tmp_path, content)) == message


def test_max_pixels_is_per_topic_and_the_conversions_own_by_default(tmp_path):
    content = "topics:\n  /camera/color/image_raw/compressed: {max_pixels: 8294400}\n  /camera/depth: {}\n"
    config = load_config(write_config(tmp_path, content))
    assert config.topic("/camera/color/image_raw/compressed").max_pixels == 8294400
    assert config.topic("/camera/depth").max_pixels is None
    assert config.topic("/unlisted").max_pixels is None


def test_web_port_null_serves_grpc_alone(tmp_path):
    sinks = load_config(write_config(tmp_path, "recording:\n  sinks:\n    serve: {web_port: null}\n")).recording.sinks
    assert sinks.serve == ServeConfig(web_port=None)
    sinks = load_config(write_config(tmp_path, "recording:\n  sinks:\n    serve: {grpc_port: 9877}\n")).recording.sinks
    assert sinks.serve == ServeConfig(grpc_port=9877, web_port=9090)


# -- the viewer to connect to: the forms of Rerun's CLI, which rerun-sdk's sink does not take itself -------------

VIEWERS = [
    ("127.0.0.1:9876", "rerun+http://127.0.0.1:9876/proxy"),
    ("robot.local:9877", "rerun+http://robot.local:9877/proxy"),
    ("[::1]:9876", "rerun+http://[::1]:9876/proxy"),
    ("9877", "rerun+http://127.0.0.1:9877/proxy"),
    ("rerun+http://192.168.1.20:9876/proxy", "rerun+http://192.168.1.20:9876/proxy"),
    ("rerun+https://viewer.example.com:443/proxy", "rerun+https://viewer.example.com:443/proxy"),
    ("rerun://viewer.example.com/proxy", "rerun://viewer.example.com/proxy"),
]

NOT_VIEWERS = [
    ("http://127.0.0.1:9876", "Rerun takes no http:// URLs"),
    ("127.0.0.1:70000", "port '70000' is not from 1 to 65535"),
    ("0", "port '0' is not from 1 to 65535"),
    (":9876", "no host"),
    ("rerun+http://:9876/proxy", "no host"),
    ("127.0.0.1", "no port"),
    ("robot local:9876", "whitespace in it"),
    ("", "empty"),
    ("rerun+http://127.0.0.1:9876/", "the path must be /proxy"),
    ("::1:9876", "not HOST:PORT (an IPv6 address goes in brackets: [::1]:9876)"),
    ("256.1.1.1:9876", "'256.1.1.1' is not an IPv4 address, and a host name ends in a letter"),
    ("user@robot:9876", "'user@robot' is not a host name"),
]


@pytest.mark.parametrize(("text", "url"), VIEWERS)
def test_viewer_url_takes_a_url_host_and_port_or_a_port(text, url):
    assert viewer_url(text) == url


@pytest.mark.parametrize(("text", "problem"), NOT_VIEWERS)
def test_viewer_url_refuses_anything_else_saying_what_is_allowed(text, problem):
    with pytest.raises(ConfigError) as raised:
        viewer_url(text)
    assert str(raised.value) == f"{text!r} is not a viewer address ({problem}): expected {VIEWER_FORMS}"


@pytest.mark.parametrize(("text", "url"), [
    ("51234", "rerun+http://127.0.0.1:51234"),
    ("robot.local:51234", "rerun+http://robot.local:51234"),
    ("rerun+http://[::1]:51234", "rerun+http://[::1]:51234"),
    ("rerun+https://catalog.example.com", "rerun+https://catalog.example.com"),
])  # fmt: skip
def test_catalog_url_takes_the_forms_a_viewers_does_without_proxy(text, url):
    assert catalog_url(text) == url

@pytest.mark.parametrize(("given", "url"), [
    ("127.0.0.1:9876", "rerun+http://127.0.0.1:9876/proxy"),  # passed check-config, then crashed replay
    ("9877", "rerun+http://127.0.0.1:9877/proxy"),  # an integer, to YAML
    ("rerun+http://192.168.1.20:9876/proxy", "rerun+http://192.168.1.20:9876/proxy"),
])  # fmt: skip
def test_the_config_connects_to_the_viewer_url(tmp_path, given, url):
    config = load_config(write_config(tmp_path, f"recording:\n  sinks:\n    connect: {given}\n"))
    assert config.recording.sinks.connect == url


def test_command_line_include_narrows_the_configs_never_widens_it() -> None:
    """`--include` means "only topics matching": with a config that has its own include, a topic needs both."""
    config = BridgeConfig(include=("/camera/.*", "/tf"), exclude=(".*/ir/.*",)).with_filters(("/camera/color/.*",), ("/tf",))
    assert config.selects("/camera/color/image_raw")
    assert not config.selects("/camera/depth/image_rect_raw")  # the config's include, not the command line's
    assert not config.selects("/robot/camera/color/image_raw")  # the command line's, not the config's
    assert not config.selects("/camera/color/ir/image")  # the config's exclude
    assert not BridgeConfig().with_filters((), ("/tf",)).selects("/tf")
    assert BridgeConfig().with_filters(("/tf",)).selects("/tf") and not BridgeConfig().with_filters(("/tf",)).selects("/x")
