"""Live video (issue 11): colour frames received live are encoded off the receive path, and a topic whose
encoder falls behind drops frames before they are encoded, counted, rather than queueing them.

Real components throughout: the `live` command over Cyclone DDS on loopback with dds_publisher.py,
LiveQueues with a real Bridge and Recording, the .rrd read back through Rerun, samples decoded with PyAV.
"""

from __future__ import annotations

import re
import signal
from pathlib import Path

from cli_process import running_bridge
from dds_publisher import COLOR, smooth_color_for
from ports import free_port
from recordings import image_msg, read_recording
from test_live_dds import dds_env, publish  # noqa: F401  (dds_env is a fixture)
from test_video import decode, psnr, samples

from bridge.config import SinksConfig, parse_config
from bridge.core import Bridge, LiveQueues
from bridge.sinks import Recording

IMAGE = "sensor_msgs/msg/Image"


def counters(stderr: str, topic: str) -> dict[str, int]:
    """The counters the bridge prints for `topic` at exit."""
    summary = re.search(rf"^{re.escape(topic)}: .*$", stderr, re.MULTILINE)[0]
    return {name: int(count) for count, name in re.findall(r"(\d+) (received|logged|dropped|failed)", summary)}


def test_live_encodes_a_colour_topic_as_h264_at_its_stamps(tmp_path: Path, dds_env: dict[str, str]) -> None:
    config = tmp_path / "live.yaml"
    config.write_text(f"auto: false\ntopics:\n  {COLOR}: {{kind: image, video: {{codec: h264, gop: 15}}}}\n")
    output = tmp_path / "live.rrd"
    connect = ("--connect", f"rerun+http://127.0.0.1:{free_port()}/proxy")  # no viewer behind it
    with running_bridge("live", "-c", config, "-o", output, *connect) as bridge:
        sent = publish(dds_env, seconds=2, expect=[COLOR], scene="smooth")
        bridge.send_signal(signal.SIGTERM)
        _, stderr = bridge.communicate(timeout=60)

    assert bridge.returncode == 0, stderr
    counts = counters(stderr, COLOR)
    assert counts["received"] == counts["logged"] + counts.get("dropped", 0) + counts.get("failed", 0)
    rows = samples(read_recording(output), COLOR)
    assert len(rows) == counts["logged"] > 0, "the frames the encoder held at exit were flushed"
    stamps = [stamp for stamp, _, _ in rows]
    assert set(stamps) <= sent and stamps == sorted(stamps), "one sample per frame, at its header.stamp"
    assert rows[0][2], "a keyframe first"
    decoded = decode("h264", [data for _, data, _ in rows])
    assert len(decoded) == len(rows)
    assert [frame.key_frame for frame in decoded] == [key for _, _, key in rows]
    scores = [psnr(frame.to_ndarray(format="rgb24"), smooth_color_for(stamp)) for frame, stamp in zip(decoded, stamps)]
    assert min(scores) >= 38, scores


def test_frames_an_encoder_cannot_keep_up_with_are_dropped_before_it(tmp_path: Path) -> None:
    """A burst far faster than encoding (a frame takes milliseconds to encode, microseconds to queue): the
    worker encodes the first, the queue keeps the newest `queue_size`, and every other frame is counted dropped."""
    topic, frames = "/camera/color/image_raw", 60
    config = parse_config({"auto": False, "topics": {topic: {"kind": "image", "queue_size": 2, "video": "h264"}}})
    config = config.with_sinks(SinksConfig(file=tmp_path / "burst.rrd"))
    bridge = Bridge(config, Recording(config.recording))
    queues = LiveQueues(bridge)
    route = bridge.route(topic, IMAGE)
    stamps = [1_700_000_000 * 10**9 + i * 33_333_333 for i in range(frames)]
    messages = [image_msg(smooth_color_for(stamp), "rgb8", stamp) for stamp in stamps]
    for msg in messages:
        queues.push(route, msg)
    queues.close(timeout=120)
    bridge.close()
    bridge.recording.close(keep_file=True)

    stats = bridge.stats[topic]
    assert stats.received == frames == stats.logged + stats.dropped + stats.failed
    assert stats.dropped > 0 and stats.failed == 0
    rows = samples(read_recording(tmp_path / "burst.rrd"), topic)
    assert len(rows) == stats.logged
    assert [stamp for stamp, _, _ in rows][-2:] == stamps[-2:], "the newest frames are kept, the oldest dropped"
    decoded = decode("h264", [data for _, data, _ in rows])
    assert min(psnr(f.to_ndarray(format="rgb24"), smooth_color_for(stamp)) for f, (stamp, _, _) in zip(decoded, rows)) >= 38
