"""A camera load over DDS, as ROS 2 camera drivers publish it: N RGB-D cameras at 30 Hz.

    CYCLONEDDS_URI=... ROS_DOMAIN_ID=... python -m bench.dds_load --cameras 2 --seconds 10

Each camera publishes 1920x1080 rgb8 on `/camN/color/image_raw` and 848x480
16UC1 on `/camN/depth/image_rect_raw` (best effort, as the sensor-data
profile). Messages are serialized once with rosbags; per frame only the
header stamp is patched in (the time the frame is sent, so the bridge's
latency is end to end) and the bytes are written as they are. Once every
writer has a reader, it publishes for `--seconds`, then prints the frames sent
per topic as JSON.
"""

from __future__ import annotations

import argparse
import json
import struct
import sys
import time
from typing import Sequence

from cyclonedds._clayer import ddspy_write  # writes serialized bytes as they are
from cyclonedds.core import Policy, Qos
from cyclonedds.domain import DomainParticipant
from cyclonedds.pub import DataWriter
from cyclonedds.topic import Topic

from bridge.sources.dds import domain_id_from_env, idl_type, type_hash_user_data

from . import messages as m

COLOUR_SIZE = (1920, 1080)
DEPTH_SIZE = (848, 480)
RATE_HZ = 30.0
MATCH_TIMEOUT_S = 20.0
STAMP = struct.Struct("<iI")  # header.stamp, right after the 4-byte CDR encapsulation header
SENSOR_DATA = Qos(Policy.Reliability.BestEffort, Policy.History.KeepLast(5))


def camera_topics(cameras: int) -> dict[str, str]:
    """Topic -> encoding of every stream of the load."""
    topics = {}
    for camera in range(cameras):
        topics[f"/cam{camera}/color/image_raw"] = "rgb8"
        topics[f"/cam{camera}/depth/image_rect_raw"] = "16UC1"
    return topics


class StampedStream:
    """One topic's writer and its pre-serialized frame, re-stamped at each write."""

    def __init__(self, participant: DomainParticipant, topic: str, encoding: str):
        if encoding == "rgb8":
            msg = m.image_msg(m.render_colour(*COLOUR_SIZE, 0), encoding, 0, m.FRAME_ID_COLOUR)
        else:
            msg = m.image_msg(m.render_depth(*DEPTH_SIZE, 0), encoding, 0, m.FRAME_ID_DEPTH)
        self.payload = bytearray(m.serialize(msg))
        qos = Qos(*SENSOR_DATA, type_hash_user_data(m.IMAGE_TYPE))
        self.writer = DataWriter(participant, Topic(participant, "rt" + topic, idl_type(m.IMAGE_TYPE)), qos=qos)
        self.sent = 0

    def matched(self) -> bool:
        return self.writer.get_publication_matched_status().current_count > 0

    def write_now(self) -> None:
        now_ns = time.time_ns()
        STAMP.pack_into(self.payload, 4, now_ns // 1_000_000_000, now_ns % 1_000_000_000)
        ddspy_write(self.writer._ref, bytes(self.payload))
        self.sent += 1


def wait_for_readers(streams: dict[str, StampedStream]) -> None:
    deadline = time.monotonic() + MATCH_TIMEOUT_S
    while not all(stream.matched() for stream in streams.values()):
        if time.monotonic() > deadline:
            unmatched = [topic for topic, stream in streams.items() if not stream.matched()]
            raise SystemExit(f"dds_load: no reader after {MATCH_TIMEOUT_S:.0f} s for {', '.join(unmatched)}")
        time.sleep(0.05)
    time.sleep(0.3)  # the readers' side of the match completes too


def publish(streams: dict[str, StampedStream], seconds: float) -> None:
    """Every stream once per period, on a fixed schedule (a late frame is sent late, not skipped)."""
    began = time.monotonic()
    for frame in range(int(seconds * RATE_HZ)):
        time.sleep(max(0.0, began + frame / RATE_HZ - time.monotonic()))
        for stream in streams.values():
            stream.write_now()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cameras", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args(argv)

    participant = DomainParticipant(domain_id_from_env())
    streams = {topic: StampedStream(participant, topic, enc) for topic, enc in camera_topics(args.cameras).items()}
    wait_for_readers(streams)
    publish(streams, args.seconds)
    time.sleep(0.5)  # samples in flight arrive before the writers go
    print(json.dumps({topic: stream.sent for topic, stream in streams.items()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
