"""Fuzzing the config loader: whatever a file holds, `load_config` returns a config or raises a ConfigError whose
problems are each one line naming the file; `parse_config` and `viewer_url` likewise. Seeded (derandomize), so a run tests what the last did.

The files are the documented examples (README, bridge/config.py, config/*.yaml), mutated as a tree (values replaced
by others of any type, huge numbers, keys of any type, deep nesting, deletions) and as bytes (random bytes, deletions,
duplications, YAML's own syntax and tags, 5,000-digit numbers, invalid UTF-8).
"""

from __future__ import annotations

import copy
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import rerun as rr
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import bridge.config
from bridge.config import BridgeConfig, ConfigError, load_config, parse_config, viewer_url

REPO = Path(__file__).resolve().parents[1]


def fuzz(examples: int) -> settings:
    """The same examples on every run (no database, no random seed), however long each takes."""
    return settings(derandomize=True, max_examples=examples, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow])  # fmt: skip


def documented_examples() -> list[str]:
    """The README's config, the module docstring's and the files in config/."""
    readme = re.search(r"## Configuration\n.*?```yaml\n(.*?)```", (REPO / "README.md").read_text(), re.DOTALL)
    assert readme is not None, "README.md has no yaml block under ## Configuration"
    docstring = "\n".join(line[4:] for line in bridge.config.__doc__.splitlines() if line.startswith("    "))
    return [readme.group(1), docstring] + [path.read_text() for path in sorted((REPO / "config").glob("*.yaml"))]


EXAMPLES = documented_examples()
EXAMPLE_DOCUMENTS = [yaml.safe_load(example) for example in EXAMPLES]

# What fuzzing and the crash reports found troublesome, as values and as text.
NASTY_STRINGS = ["", " ", "/", "//a", "a{99999999999}", "(" * 300, "rerun+http://:1/proxy", "127.0.0.1:9876", "::",
                 "0.0.0.0", "depth", "turbo", "P", "reliable", "\x00", "\u202e", "é", "\U0001f600", "x" * 5000]  # fmt: skip
NASTY_TEXT = ["? [a, b]\n: 1\n", "[" * 3000, "{a: " * 100, "9" * 5000, "0x" + "f" * 2000, "1:" * 2000 + "1",
              "!!python/object/apply:os.system [ls]", "&a ", "*a", "<<: *a", "<<: [*a, *a]", "\t", "{", "}", "[", "]",
              ": ", "- ", "\n  ", "\n    ", '"', "'", "#", "%YAML 1.1\n", "---\n", "...\n", "!!binary", "!!int ''",
              "!!float", "!!bool maybe", "!!timestamp", "2020-13-45", ".inf", ".nan", "~", "null", "é", "\U0001f600",
              "\u202e", "\x00", "\x07", "\r", "\ufeff", "\\", "%", "@", "`", "|", ">", "!", "&", "*", "?", "\n"]  # fmt: skip
NASTY_BYTES = [text.encode() for text in NASTY_TEXT] + [b"\xff\xfe", b"\xc3", b"\xed\xa0\x80"]  # and not UTF-8

KEYS = st.one_of(
    st.sampled_from(["recording", "sinks", "connect", "serve", "bind", "grpc_port", "topics", "include", "meter",
                     "depth_range", "max_pixels", "queue_size", "/camera/depth", "/tf", "<<"]),  # fmt: skip
    st.text(max_size=12),
    st.integers(),
    st.none(),
    st.booleans(),
    st.floats(),
)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.sampled_from([0, -1, 65536, 2**63, 10**400, -(10**400)]),
    st.floats(),
    st.text(max_size=30),
    st.sampled_from(NASTY_STRINGS),
    st.dates(),
    st.binary(max_size=8),
)
VALUES = st.one_of(SCALARS, st.lists(SCALARS, max_size=4), st.dictionaries(KEYS, SCALARS, max_size=3))
# (No integers past 4,300 digits: PyYAML cannot write them. The edits as bytes bring them in.)


def assert_problems(err: ConfigError, prefix: str) -> None:
    """Every problem one short line starting with `prefix`; the message, those lines."""
    assert err.args and str(err) == "\n".join(err.args), err.args
    for problem in err.args:
        assert problem.startswith(prefix) and "\n" not in problem and len(problem) < 1000, problem


def assert_loads_or_refuses(path: Path) -> None:
    """The one outcome allowed but a config: a ConfigError whose problems each name the file, on a short line."""
    try:
        config = load_config(path)
    except ConfigError as err:
        assert_problems(err, f"{path}: ")
        return
    assert isinstance(config, BridgeConfig)
    config.selects("/camera/color/image_raw")  # its patterns compile and match
    if config.recording.sinks.connect is not None:
        rr.GrpcSink(config.recording.sinks.connect)  # rerun-sdk takes its viewer


@pytest.fixture(scope="module")
def config_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz") / "bridge.yaml"


def test_the_documented_examples_load(config_file):
    for example in EXAMPLES:
        config_file.write_text(example)
        assert isinstance(load_config(config_file), BridgeConfig)


def mutate(node: Any, data: st.DataObject) -> Any:
    """`node` with one change somewhere in it: a value replaced, wrapped, nested deep, a key dropped or added."""
    children = list(node) if isinstance(node, dict) else list(range(len(node))) if isinstance(node, list) else []
    if children and data.draw(st.booleans()):
        child = data.draw(st.sampled_from(children))
        node[child] = mutate(node[child], data)
        return node
    change = data.draw(st.sampled_from(["replace", "wrap", "nest", "drop", "add", "stringify"]))
    if change == "replace":
        return data.draw(VALUES)
    if change == "wrap":
        return [node] if data.draw(st.booleans()) else {data.draw(KEYS): node}
    if change == "nest":
        for _ in range(data.draw(st.integers(1, 40))):
            node = [node]
        return node
    if change == "drop" and children:
        del node[data.draw(st.sampled_from(children))]
    elif change == "add" and isinstance(node, dict):
        node[data.draw(KEYS)] = data.draw(VALUES)
    elif change == "stringify":
        return str(node)
    return node


@fuzz(250)
@given(data=st.data())
def test_a_mutated_example_loads_or_is_a_config_error(config_file, data):
    document = copy.deepcopy(data.draw(st.sampled_from(EXAMPLE_DOCUMENTS)))
    for _ in range(data.draw(st.integers(1, 4))):
        document = mutate(document, data)
    config_file.write_text(yaml.safe_dump(document, allow_unicode=True, sort_keys=False))
    assert_loads_or_refuses(config_file)


EDITS = st.tuples(
    st.sampled_from(["insert", "delete", "duplicate", "replace"]),
    st.floats(0, 1),
    st.floats(0, 0.2),
    st.one_of(st.binary(min_size=1, max_size=16), st.sampled_from(NASTY_BYTES)),
)


def edit(text: bytes, change: str, where: float, span: float, payload: bytes) -> bytes:
    start = int(where * len(text))
    end = min(len(text), start + max(1, int(span * len(text))))
    if change == "insert":
        return text[:start] + payload + text[start:]
    if change == "delete":
        return text[:start] + text[end:]
    if change == "duplicate":
        return text[:end] + text[start:end] + text[end:]
    return text[:start] + payload + text[end:]


@fuzz(400)
@given(example=st.sampled_from(EXAMPLES), edits=st.lists(EDITS, min_size=1, max_size=6))
def test_an_example_edited_as_bytes_loads_or_is_a_config_error(config_file, example, edits):
    text = example.encode()
    for change in edits:
        text = edit(text, *change)
    config_file.write_bytes(text)
    assert_loads_or_refuses(config_file)


DOCUMENTS = st.recursive(
    st.one_of(SCALARS, st.integers(4300, 6000).map(lambda digits: 10**digits)),  # more digits than Python prints
    lambda children: st.lists(children, max_size=4) | st.dictionaries(KEYS, children, max_size=4),
    max_leaves=20,
)


SECTIONS = st.dictionaries(st.sampled_from(["recording", "topics", "auto", "include"]), DOCUMENTS)


@fuzz(200)
@given(document=st.one_of(DOCUMENTS, SECTIONS))
def test_parse_config_takes_any_document(document):
    try:
        assert isinstance(parse_config(document), BridgeConfig)
    except ConfigError as err:
        assert_problems(err, "")


URL_PIECES = st.sampled_from([*"0123456789abcxXf.:-_[]/+%@ é", "rerun+http://", "rerun+https://", "rerun://", "http://",
                              "/proxy", "::", "9876", "0x", "127.0.0.1", "[::1]", "localhost"])  # fmt: skip


@fuzz(500)
@given(text=st.lists(URL_PIECES, max_size=10).map("".join))
def test_viewer_url_gives_what_rerun_takes_or_a_config_error(text):
    try:
        url = viewer_url(text)
    except ConfigError as err:
        assert str(err).startswith(f"{text!r} is not a viewer address (") and "\n" not in str(err)
        return
    rr.GrpcSink(url)  # raises for a URL rerun-sdk does not take
    assert viewer_url(url) == url


NASTY_FILES = {
    "binary.yaml": b"recording:\n  application_id: \xff\xfe\x00\n",
    "deep.yaml": b"topics: " + b"[" * 5000 + b"]" * 5000 + b"\n",
    "port.yaml": b"recording:\n  sinks:\n    serve: {grpc_port: " + b"9" * 5000 + b"}\n",
    "tag.yaml": b"recording: !!python/object/apply:os.system [echo]\n",
}


def test_check_config_on_nasty_files_exits_2_with_one_line(tmp_path):
    """The real command line, as a process: status 2 and one line naming the file, no traceback."""
    environment = {**os.environ, "PYTHONPATH": str(REPO)}
    runs = {}
    for name, content in NASTY_FILES.items():
        (tmp_path / name).write_bytes(content)
        runs[name] = subprocess.Popen([sys.executable, "-m", "bridge", "check-config", str(tmp_path / name)], cwd=REPO,
                                      env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    for name, run in runs.items():
        out, err = run.communicate(timeout=60)
        assert run.returncode == 2, (name, out, err)
        assert out == "" and err.count("\n") == 1 and err.startswith(f"ERROR: {tmp_path / name}: "), (name, err)
