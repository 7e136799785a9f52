"""Seeded fuzzing of the whole bridge on garbled CDR: the bad topic is named, the good one loses nothing.

Each message kind is serialized as a transport delivers it (CDR with its 4-byte header), then cut,
bit-flipped, overwritten with garbage or given forged sequence lengths, and fed to a real `Bridge` over
a real `.rrd` between the frames of a good camera. Whatever the bytes, `handle_cdr` returns: nothing
raises, every good frame reaches the recording, and each kind of problem of the bad topic is warned
about once (the others are counted).
"""

from __future__ import annotations

import logging
import re
import struct
from pathlib import Path

import cv2
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from recordings import TYPESTORE, camera_info_msg, column, compressed_msg, image_msg, read_recording, tf_msg

from bridge.config import SinksConfig, parse_config
from bridge.core import Bridge
from bridge.sinks import Recording

GOOD = "/good/image_raw"
GOOD_PIXELS = np.arange(8 * 6 * 3, dtype=np.uint8).reshape(8, 6, 3)
PNG = cv2.imencode(".png", np.full((4, 6, 3), 7, np.uint8))[1].tobytes()
VALID = {  # topic -> a valid message of its kind
    "/bad/image_raw": image_msg(np.zeros((4, 6, 3), np.uint8), "rgb8", 1),
    "/bad/depth": image_msg(np.ones((4, 6), np.uint16), "16UC1", 1),
    "/bad/compressed": compressed_msg(PNG, "png", 1),
    "/bad/camera_info": camera_info_msg([50.0, 0, 3, 0, 50.0, 2, 0, 0, 1], 6, 4, 1),
    "/tf": tf_msg([("odom", "base_link", (1.0, 2.0, 3.0), (0.0, 0.0, 0.0, 1.0))], 1),
}
FUZZ = settings(derandomize=True, database=None, deadline=None, suppress_health_check=list(HealthCheck))


@st.composite
def garbled(draw: st.DrawFn, data: bytes) -> bytes:
    """`data` (CDR) cut short, bit-flipped, overwritten, or with a sequence length forged."""
    data = bytearray(data)
    how = draw(st.sampled_from(["cut", "flip", "garbage", "length"]))
    if how == "cut":
        return bytes(data[: draw(st.integers(0, len(data) - 1))])
    at = draw(st.integers(4, len(data) - 1))  # past the encapsulation header
    if how == "flip":
        data[at] ^= 1 << draw(st.integers(0, 7))
    elif how == "garbage":
        data[at:] = draw(st.binary(min_size=0, max_size=len(data)))
    else:
        at -= at % 4
        data[at : at + 4] = struct.pack("<I", draw(st.sampled_from([0, 1, 2**31 - 1, 2**32 - 1, len(data) * 2])))
    return bytes(data)


@st.composite
def bad_streams(draw: st.DrawFn) -> tuple[str, str, list[bytes]]:
    topic = draw(st.sampled_from(sorted(VALID)))
    msg = VALID[topic]
    cdr = bytes(TYPESTORE.serialize_cdr(msg, msg.__msgtype__))
    return topic, msg.__msgtype__, draw(st.lists(garbled(cdr), min_size=1, max_size=12))


@pytest.fixture(scope="module")
def out_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz_bridge")


@settings(FUZZ, max_examples=60)
@given(stream=bad_streams())
def test_garbled_cdr_is_named_and_loses_nothing_else(stream, out_dir: Path, caplog: pytest.LogCaptureFixture) -> None:
    topic, msgtype, payloads = stream
    caplog.clear()
    output = out_dir / "out.rrd"
    config = parse_config({}).with_sinks(SinksConfig(file=output))
    bridge = Bridge(config, Recording(config.recording))
    good_route, bad_route = bridge.route(GOOD, "sensor_msgs/msg/Image"), bridge.route(topic, msgtype)
    good = bytes(TYPESTORE.serialize_cdr(image_msg(GOOD_PIXELS, "rgb8", 0), "sensor_msgs/msg/Image"))
    with caplog.at_level(logging.WARNING, logger="ros2_rerun_bridge"):
        for index, payload in enumerate(payloads):
            bridge.handle_cdr(bad_route, payload, TYPESTORE.deserialize_cdr, 2 * index + 1)
            assert bridge.handle_cdr(good_route, good, TYPESTORE.deserialize_cdr, 2 * index + 2)
    bridge.recording.close(keep_file=True)

    stats = bridge.stats
    assert stats[GOOD].logged == len(payloads)
    assert stats[topic].received == len(payloads) == stats[topic].logged + stats[topic].failed + stats[topic].skipped
    warnings = [record.getMessage() for record in caplog.records]
    assert all(w.startswith((f"{topic}: ", f"{GOOD}: ")) for w in warnings), warnings
    kinds = [re.sub(r"[-+]?\d+(?:\.\d+)?(?:e[-+]?\d+)?", "#", w) for w in warnings]
    assert len(kinds) == len(set(kinds)), warnings  # once per kind of problem
    assert not any(w.startswith(GOOD) for w in warnings)
    if stats[topic].failed:
        assert any(w.startswith(f"{topic}: ") for w in warnings)
    table = read_recording(output, index="message_log_time")
    assert len(column(table, f"{GOOD}:Image:buffer")) == len(payloads)
