"""A camera load over DDS, as ROS 2 camera drivers publish it: N RGB-D cameras at 30 Hz.

    CYCLONEDDS_URI=... ROS_DOMAIN_ID=... python -m bench.dds_load --cameras 2 --seconds 10
    ... python -m bench.dds_load --cameras 1 --colour 1280x720 --depth 640x480 --seconds 30

Each camera publishes rgb8 on `/camN/color/image_raw` (1920x1080 unless
`--colour`), 16UC1 on `/camN/depth/image_rect_raw` (848x480 unless `--depth`)
and a CameraInfo for each (best effort, as the sensor-data profile). A few
distinct frames per stream are rendered and serialized once with rosbags;
per send only the header stamp is patched in (the time the frame is sent, so
the bridge's latency is end to end) and the bytes are written as they are:
serializing each frame through Python would cap the rate (cyclonedds' IDL
types publish 720p at ~2.7 Hz). Once every writer has a reader, it publishes
for `--seconds`, then prints the frames sent per topic as JSON, and on stderr
the rate it achieved.
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
DISTINCT_FRAMES = 3  # per image stream, sent in turn: consecutive frames differ
MATCH_TIMEOUT_S = 20.0
STAMP = struct.Struct("<iI")  # header.stamp, right after the 4-byte CDR encapsulation header
SENSOR_DATA = Qos(Policy.Reliability.BestEffort, Policy.History.KeepLast(5))


def camera_topics(cameras: int) -> dict[str, str]:
    """Topic -> stream kind ("rgb8", "16UC1" or "camera_info") of every stream of the load."""
    topics = {}
    for camera in range(cameras):
        topics[f"/cam{camera}/color/image_raw"] = "rgb8"
        topics[f"/cam{camera}/color/camera_info"] = "camera_info"
        topics[f"/cam{camera}/depth/image_rect_raw"] = "16UC1"
        topics[f"/cam{camera}/depth/camera_info"] = "camera_info"
    return topics


def serialized_frames(topic: str, kind: str, colour: tuple[int, int], depth: tuple[int, int]) -> list[bytearray]:
    """The distinct messages a stream sends in turn, serialized (stamp 0, patched at each send)."""
    is_colour = "/color/" in topic
    camera = topic.split("/")[1]  # each camera's own optical frames, as on a robot: frames name one camera each
    frame_id = f"{camera}_{m.FRAME_ID_COLOUR if is_colour else m.FRAME_ID_DEPTH}"
    if kind == "camera_info":
        messages = [m.camera_info_msg(*(colour if is_colour else depth), 0, frame_id)]
    elif kind == "rgb8":
        messages = [m.image_msg(m.render_colour(*colour, phase), kind, 0, frame_id) for phase in range(DISTINCT_FRAMES)]
    else:
        messages = [m.image_msg(m.render_depth(*depth, phase), kind, 0, frame_id) for phase in range(DISTINCT_FRAMES)]
    return [bytearray(m.serialize(msg)) for msg in messages]


class StampedStream:
    """One topic's writer and its pre-serialized frames, sent in turn, each re-stamped as it is written."""

    def __init__(self, participant: DomainParticipant, topic: str, msgtype: str, payloads: list[bytearray]):
        self.payloads = payloads
        qos = Qos(*SENSOR_DATA, type_hash_user_data(msgtype))
        self.writer = DataWriter(participant, Topic(participant, "rt" + topic, idl_type(msgtype)), qos=qos)
        self.sent = 0

    def matched(self) -> bool:
        return self.writer.get_publication_matched_status().current_count > 0

    def write_now(self) -> None:
        payload = self.payloads[self.sent % len(self.payloads)]
        now_ns = time.time_ns()
        STAMP.pack_into(payload, 4, now_ns // 1_000_000_000, now_ns % 1_000_000_000)
        ddspy_write(self.writer._ref, bytes(payload))
        self.sent += 1


def wait_for_readers(streams: dict[str, StampedStream]) -> None:
    deadline = time.monotonic() + MATCH_TIMEOUT_S
    while not all(stream.matched() for stream in streams.values()):
        if time.monotonic() > deadline:
            unmatched = [topic for topic, stream in streams.items() if not stream.matched()]
            raise SystemExit(f"dds_load: no reader after {MATCH_TIMEOUT_S:.0f} s for {', '.join(unmatched)}")
        time.sleep(0.05)
    time.sleep(0.3)  # the readers' side of the match completes too


def publish(streams: dict[str, StampedStream], seconds: float) -> float:
    """Every stream once per period, on a fixed schedule (a late frame is sent late, not skipped).

    Returns the rate achieved: periods per second from the first send to the end of the last.
    """
    frames = int(seconds * RATE_HZ)
    began = time.monotonic()
    for frame in range(frames):
        time.sleep(max(0.0, began + frame / RATE_HZ - time.monotonic()))
        for stream in streams.values():
            stream.write_now()
    return frames / (time.monotonic() - began)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cameras", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--colour", type=size, default=COLOUR_SIZE, metavar="WxH", help="rgb8 frame size (%dx%d)" % COLOUR_SIZE)
    parser.add_argument("--depth", type=size, default=DEPTH_SIZE, metavar="WxH", help="16UC1 frame size (%dx%d)" % DEPTH_SIZE)
    args = parser.parse_args(argv)

    participant = DomainParticipant(domain_id_from_env())
    streams = {
        topic: StampedStream(participant, topic, m.CAMERA_INFO_TYPE if kind == "camera_info" else m.IMAGE_TYPE,
                             serialized_frames(topic, kind, args.colour, args.depth))
        for topic, kind in camera_topics(args.cameras).items()
    }  # fmt: skip
    wait_for_readers(streams)
    rate = publish(streams, args.seconds)
    time.sleep(0.5)  # samples in flight arrive before the writers go
    print(f"dds_load: {rate:.1f} Hz of the {RATE_HZ:g} Hz asked for, over {len(streams)} topics", file=sys.stderr)
    print(json.dumps({topic: stream.sent for topic, stream in streams.items()}))
    return 0


def size(text: str) -> tuple[int, int]:
    """`WxH` -> (W, H)."""
    width, _, height = text.partition("x")
    try:
        return int(width), int(height)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected WIDTHxHEIGHT, e.g. 1280x720") from None


if __name__ == "__main__":
    sys.exit(main())
