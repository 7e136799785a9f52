"""Video (issue 11): colour topics encoded with PyAV, encoded streams passed through, depth compressed losslessly.

Everything goes through real components: bags written with rosbags (with the video message definitions),
the bridge into an .rrd, read back through Rerun's catalog reader, and decoded with PyAV's own decoders.
"""

from __future__ import annotations

import logging
from fractions import Fraction
import random
import struct
import sys
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
from rosbags.rosbag2 import StoragePlugin, Writer
from rosbags.typesys import Stores, get_typestore

from bridge.bag_info import describe_bag
from bridge.config import BridgeConfig, SinksConfig, parse_config
from bridge.conversion import ConversionError
from bridge.conversion.image import RawFrame, depth_archetype
from bridge.conversion.opencv import encode_png
from bridge.conversion.options import DepthCompression
from bridge.conversion.rvl import ros_rvl_payload
from bridge.conversion.video import VideoCodec, nal_units, video_sample
from bridge.core import Bridge
from bridge.demo import COLOR_TOPIC, DEPTH_TOPIC, demo_messages, write_demo_bag
from bridge.msgs import register_video_types
from bridge.replay import ReplayOptions, replay
from bridge.sinks import Recording
from bridge.streams import EncoderUnavailable, check_encoders
from bridge.streams.encoder import VideoEncoder

from recordings import column, read_recording

TS = register_video_types(get_typestore(Stores.ROS2_HUMBLE))
T = TS.types
START_NS = 1_700_000_000 * 10**9
PERIOD_NS = 10**9 // 15
W, H = 160, 120


# -- helpers --------------------------------------------------------------------------------------


def frames(n: int) -> list[np.ndarray]:
    """A moving gradient with a bright square: every frame differs, and motion is predictable."""
    y, x = np.mgrid[:H, :W]
    out = []
    for i in range(n):
        rgb = np.stack([(x * 255 // W + 3 * i) % 256, (y * 255 // H) % 256, np.full_like(x, 128)], -1).astype(np.uint8)
        rgb[40:70, (5 * i) % (W - 30) :][:, :30] = 255
        out.append(rgb)
    return out


def encode(encoder: str, images: list[np.ndarray], b_frames: int = 0, gop: int = 10, options=None) -> list[tuple[bytes, bool]]:
    """An independent encoder's packets in decode order: (bytes, keyframe)."""
    context = av.CodecContext.create(encoder, "w")
    context.width, context.height, context.pix_fmt = W, H, "yuv420p"
    context.time_base, context.framerate = Fraction(1, 15), 15
    context.gop_size, context.max_b_frames = gop, b_frames
    context.options = options or {}
    packets = []
    for i, image in enumerate(images):
        frame = av.VideoFrame.from_ndarray(image, format="rgb24")
        frame.pts = i
        packets += context.encode(frame)
    packets += context.encode(None)
    return [(bytes(p), p.is_keyframe) for p in packets]


def avcc(annex_b: bytes) -> bytes:
    return b"".join(len(unit).to_bytes(4, "big") + unit for unit in nal_units(annex_b))


def header(ns: int):
    return T["std_msgs/msg/Header"](stamp=T["builtin_interfaces/msg/Time"](sec=ns // 10**9, nanosec=ns % 10**9),
                                    frame_id="camera_optical_frame")  # fmt: skip


def compressed_image(data: bytes, fmt: str, ns: int):
    return T["sensor_msgs/msg/CompressedImage"](header=header(ns), format=fmt, data=np.frombuffer(data, np.uint8))


def compressed_video(data: bytes, fmt: str, ns: int):
    return T["foxglove_msgs/msg/CompressedVideo"](timestamp=header(ns).stamp, frame_id="camera_optical_frame",
                                                  data=np.frombuffer(data, np.uint8), format=fmt)  # fmt: skip


def ffmpeg_packet(data: bytes, encoding: str, ns: int, pts: int):
    return T["ffmpeg_image_transport_msgs/msg/FFMPEGPacket"](header=header(ns), width=W, height=H, encoding=encoding, pts=pts,
                                                             flags=0, is_bigendian=False, data=np.frombuffer(data, np.uint8))  # fmt: skip


def write_bag(path: Path, messages: list[tuple[str, object, int]]) -> Path:
    connections: dict[str, object] = {}
    with Writer(path, version=8, storage_plugin=StoragePlugin.MCAP) as writer:
        for topic, msg, ns in messages:
            if topic not in connections:
                connections[topic] = writer.add_connection(topic, msg.__msgtype__, typestore=TS)
            writer.write(connections[topic], ns, TS.serialize_cdr(msg, msg.__msgtype__))
    return path


def bridge_to_rrd(bag: Path, rrd: Path, config: BridgeConfig | None = None) -> Bridge:
    config = (config or BridgeConfig()).with_sinks(SinksConfig(file=rrd))
    bridge = Bridge(config, Recording(config.recording))
    replay([bag], bridge, ReplayOptions(progress=False))
    bridge.close()
    bridge.recording.close(keep_file=True)
    return bridge


def samples(table, entity: str) -> list[tuple[int, bytes, bool]]:
    """(ros2_timestamp ns, sample bytes, is_keyframe) of each row of the entity's VideoStream."""
    stamps = table.column("ros2_timestamp").cast("int64").to_pylist()
    data = table.column(f"{entity}:VideoStream:sample").combine_chunks()
    keys = table.column(f"{entity}:VideoStream:is_keyframe").to_pylist()
    return [(stamps[i], data[i].values[0].values.to_numpy().tobytes(), keys[i][0])
            for i in range(len(stamps)) if data[i].is_valid]  # fmt: skip


def decode(decoder: str, samples_: list[bytes]) -> list[av.VideoFrame]:
    context = av.CodecContext.create(decoder, "r")
    decoded = []
    for sample in samples_:
        decoded += context.decode(av.Packet(sample))
    decoded += context.decode(None)
    return decoded


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else 10 * np.log10(255**2 / mse)


# -- encoding ------------------------------------------------------------------------------------


def test_demo_encoded_as_h264_decodes_back_to_its_frames(tmp_path):
    """Demo colour through the bridge's encoder, read back through Rerun, decoded with FFmpeg's H.264 decoder."""
    bag = write_demo_bag(tmp_path / "demo", frames=24)
    config = parse_config({"auto": False, "topics": {COLOR_TOPIC: {"video": {"codec": "h264", "gop": 10}}}})
    bridge = bridge_to_rrd(bag, tmp_path / "v.rrd", config)
    assert bridge.stats[COLOR_TOPIC].logged == 24
    rows = samples(read_recording(tmp_path / "v.rrd"), COLOR_TOPIC)
    sources = {ns: msg for topic, msg, ns in demo_messages(24, 640, 480) if topic == COLOR_TOPIC}
    assert [ns for ns, _, _ in rows] == sorted(sources), "one sample per frame, at its header.stamp"
    assert [key for _, _, key in rows] == [i % 10 == 0 for i in range(24)], "a keyframe first and every gop frames"
    assert all(data.startswith(b"\x00\x00\x00\x01") for _, data, _ in rows), "Annex B"
    decoded = decode("h264", [data for _, data, _ in rows])
    assert len(decoded) == 24
    scores = [psnr(frame.to_ndarray(format="rgb24"), sources[ns].data.reshape(480, 640, 3)) for frame, (ns, _, _) in zip(decoded, rows)]
    assert min(scores) >= 38, scores
    assert [frame.key_frame for frame in decoded] == [key for _, _, key in rows]


@pytest.mark.parametrize(("codec", "decoder"), [("h265", "hevc"), ("av1", "libdav1d")])
def test_jpeg_topic_encoded_with_each_codec(tmp_path, codec, decoder):
    """JPEG CompressedImage frames are decoded and encoded; the codec is logged once."""
    images = frames(12)
    jpegs = [cv2.imencode(".jpg", im[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, 95])[1].tobytes() for im in images]
    bag = write_bag(tmp_path / "b", [("/cam/compressed", compressed_image(j, "rgb8; jpeg compressed bgr8", START_NS + i * PERIOD_NS),
                                      START_NS + i * PERIOD_NS) for i, j in enumerate(jpegs)])  # fmt: skip
    bridge_to_rrd(bag, tmp_path / "v.rrd", parse_config({"video": {"codec": codec, "gop": 6}}))
    table = read_recording(tmp_path / "v.rrd")
    rows = samples(table, "/cam/compressed")
    assert len(rows) == 12 and rows[0][2] and rows[6][2]
    assert {c[0] for c in table.column("/cam/compressed:VideoStream:codec").to_pylist() if c} == {VideoCodec(codec).rerun.value}
    decoded = decode(decoder, [data for _, data, _ in rows])
    assert len(decoded) == 12
    assert min(psnr(f.to_ndarray(format="rgb24"), im) for f, im in zip(decoded, images)) > 30


def rerun_rvl_decode(payload: bytes) -> np.ndarray:
    """A compressedDepth RVL payload decoded as Rerun's viewer does (re_rvl: header, size, then one nibble
    at a time, values as they are when A is 0), written apart from the bridge's vectorised codec."""
    _, quant_a, _ = struct.unpack_from("<iff", payload)
    width, height = struct.unpack_from("<II", payload, 12)
    assert quant_a == 0, "16UC1: not quantised, so the viewer keeps the values"
    words = struct.unpack_from(f"<{(len(payload) - 20) // 4}I", payload, 20)
    nibbles = iter(word >> shift & 0xF for word in words for shift in range(28, -1, -4))

    def vle() -> int:
        value = shift = 0
        while True:
            nibble = next(nibbles)
            value |= (nibble & 0x7) << shift
            if not nibble & 0x8:
                return value
            shift += 3

    out, previous = [], 0
    while len(out) < width * height:
        out += [0] * vle()
        for _ in range(vle()):
            positive = vle()
            previous += (positive >> 1) ^ -(positive & 1)
            out.append(previous)
    return np.array(out, np.uint16).reshape(height, width)


DEPTH_DECODERS = {"png": ("image/png", lambda blob: cv2.imdecode(np.array(blob, np.uint8), cv2.IMREAD_UNCHANGED)),
                  "rvl": ("application/rvl", lambda blob: rerun_rvl_decode(bytes(blob)))}  # fmt: skip


@pytest.mark.parametrize("compression", DEPTH_DECODERS)
def test_lossless_depth_is_pixel_exact_and_depth_never_goes_to_video(tmp_path, compression):
    bag = write_demo_bag(tmp_path / "demo", frames=3)
    bridge_to_rrd(bag, tmp_path / "d.rrd", parse_config({"video": "h264", "depth_compression": compression}))
    table = read_recording(tmp_path / "d.rrd")
    assert f"{DEPTH_TOPIC}:VideoStream:sample" not in table.column_names
    blobs = [cell for cell in table.column(f"{DEPTH_TOPIC}:EncodedDepthImage:blob").to_pylist() if cell]
    media_type, decode_depth = DEPTH_DECODERS[compression]
    assert {cell[0] for cell in table.column(f"{DEPTH_TOPIC}:EncodedDepthImage:media_type").to_pylist() if cell} == {media_type}
    assert {cell[0] for cell in table.column(f"{DEPTH_TOPIC}:EncodedDepthImage:meter").to_pylist() if cell} == {1000.0}
    sources = [msg for topic, msg, _ in demo_messages(3, 640, 480) if topic == DEPTH_TOPIC]
    for blob, msg in zip(blobs, sources, strict=True):
        assert np.array_equal(decode_depth(blob[0]), msg.data.view(np.uint16).reshape(msg.height, msg.width))


def test_config_wide_video_implies_auto_depth_unless_the_config_says_otherwise(tmp_path):
    """`--video` asks for a small recording: raw depth would be most of it. `none` keeps depth raw; video on one
    topic only (not config-wide) leaves depth as the config has it."""
    bag = write_demo_bag(tmp_path / "demo", frames=2)
    cases = {"implied": ({"video": "h264"}, "EncodedDepthImage"),
             "none": ({"video": "h264", "depth_compression": "none"}, "DepthImage"),
             "one topic": ({"topics": {COLOR_TOPIC: {"video": "h264"}}}, "DepthImage")}  # fmt: skip
    for name, (document, archetype) in cases.items():
        bridge_to_rrd(bag, tmp_path / f"{name}.rrd", parse_config(document))
        table = read_recording(tmp_path / f"{name}.rrd")
        depth_columns = {column.split(":")[1] for column in table.column_names if column.startswith(f"{DEPTH_TOPIC}:")}
        assert archetype in depth_columns and ({"EncodedDepthImage", "DepthImage"} - {archetype}).isdisjoint(depth_columns), name
        if archetype == "EncodedDepthImage":  # the demo's depth is smooth: PNG
            assert {cell[0] for cell in column(table, f"{DEPTH_TOPIC}:EncodedDepthImage:media_type")} == {"image/png"}


def test_auto_depth_compression_takes_the_smaller_codec_pixel_exact():
    """PNG on smooth depth, RVL on depth with per-pixel noise: each as small as the smaller full encoding, and
    decoded to the same millimetres."""
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:480, 0:640]
    smooth = (1500 + 2 * y + x // 4).astype(np.uint16)
    noisy = (smooth + rng.normal(0, 1, smooth.shape) * (1 + 0.002 * smooth)).astype(np.uint16)
    noisy[rng.random(smooth.shape) < 0.01] = 0
    for depth, media_type in ((smooth, "image/png"), (noisy, "application/rvl")):
        archetype = depth_archetype(depth, depth_compression=DepthCompression.AUTO)
        blob = archetype.blob.as_arrow_array().to_pylist()[0]
        assert archetype.media_type.as_arrow_array().to_pylist() == [media_type]
        sizes = {"image/png": encode_png(depth).size, "application/rvl": len(ros_rvl_payload(depth))}
        assert len(blob) == min(sizes.values())
        assert np.array_equal(DEPTH_DECODERS[media_type.split("/")[1]][1](blob), depth)


def test_a_missing_pyav_is_a_usage_error_naming_the_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "av", None)  # as if PyAV were not installed
    with pytest.raises(EncoderUnavailable, match=r"pip install 'ros2_rerun_bridge\[video\]'"):
        check_encoders(parse_config({"topics": {"/cam": {"video": "h264"}}}))
    check_encoders(parse_config({}))  # nothing to encode: nothing needed


# -- pass-through ---------------------------------------------------------------------------------


def test_three_message_types_pass_through(tmp_path, caplog):
    """CompressedImage h264 with B-frames, CompressedVideo h265 starting mid-GOP, FFMPEGPacket as AVCC, CompressedVideo av1."""
    images = frames(20)
    h264_b = encode("libx264", images, b_frames=2, options={"preset": "veryfast"})
    hevc = encode("libx265", images, options={"x265-params": "log-level=error"})
    avcc_stream = [(avcc(data), key) for data, key in encode("libx264", images)]
    av1 = encode("libsvtav1", images, options={"svtav1-params": "pred-struct=1", "preset": "12"})
    messages = []
    for i in range(20):
        ns = START_NS + i * PERIOD_NS
        messages.append(("/h264", compressed_image(h264_b[i][0], "h264", ns), ns))
        if i >= 3:  # joined mid-GOP: frames 3 to 9 cannot be decoded until the keyframe at 10
            messages.append(("/hevc", compressed_video(hevc[i][0], "h265", ns), ns))
        messages.append(("/ffmpeg", ffmpeg_packet(avcc_stream[i][0], "libx264", ns, i), ns))
        messages.append(("/av1", compressed_video(av1[i][0], "av1", ns), ns))
    bag = write_bag(tmp_path / "b", messages)
    with caplog.at_level(logging.WARNING, "ros2_rerun_bridge"):
        bridge = bridge_to_rrd(bag, tmp_path / "p.rrd")
    table = read_recording(tmp_path / "p.rrd")

    h264_rows = samples(table, "/h264")
    assert [data for _, data, _ in h264_rows] == [data for data, _ in h264_b]
    assert [key for _, _, key in h264_rows] == [key for _, key in h264_b]
    b_warnings = [r for r in caplog.records if "B-frames" in r.getMessage()]
    assert len(b_warnings) == 1 and "/h264" in b_warnings[0].getMessage()

    hevc_rows = samples(table, "/hevc")
    assert len(hevc_rows) == 10 and hevc_rows[0][2] and hevc_rows[0][0] == START_NS + 10 * PERIOD_NS
    assert bridge.stats["/hevc"].skipped == 7
    assert len([r for r in caplog.records if "/hevc" in r.getMessage() and "keyframe" in r.getMessage()]) == 1
    assert len(decode("hevc", [data for _, data, _ in hevc_rows])) == 10

    ffmpeg_rows = samples(table, "/ffmpeg")
    assert all(data.startswith(b"\x00\x00\x00\x01") for _, data, _ in ffmpeg_rows), "AVCC became Annex B"
    decoded = decode("h264", [data for _, data, _ in ffmpeg_rows])
    assert len(decoded) == 20 and min(psnr(f.to_ndarray(format="rgb24"), im) for f, im in zip(decoded, images)) > 30

    av1_rows = samples(table, "/av1")
    assert [key for _, _, key in av1_rows] == [key for _, key in av1] and av1_rows[0][2]
    assert len(decode("libdav1d", [data for _, data, _ in av1_rows])) == 20
    assert not [r for r in caplog.records if "B-frames" in r.getMessage() and "/h264" not in r.getMessage()]

    said = {line.split()[0]: line.split(": ", 1)[1] for line in describe_bag(bag, BridgeConfig()).text.splitlines()[2:]}
    assert said == {"/av1": "VideoStream (av1)", "/ffmpeg": "VideoStream (h264)", "/h264": "VideoStream (h264)",
                    "/hevc": "VideoStream (h265)"}, "`info` says it as the replay does it"  # fmt: skip


def test_keyframe_and_b_frame_detection_per_codec():
    images = frames(12)
    for encoder, codec in (("libx264", VideoCodec.H264), ("libx265", VideoCodec.H265)):
        options = {"x265-params": "log-level=error:bframes=2"} if codec is VideoCodec.H265 else {}
        packets = encode(encoder, images, b_frames=2, gop=6, options=options)
        parsed = [video_sample(codec, data) for data, _ in packets]
        assert [s.keyframe for s in parsed] == [key for _, key in packets]
        assert any(s.b_frame for s in parsed)
        no_b = [video_sample(codec, data) for data, _ in encode(encoder, images, gop=6, options={"x265-params": "log-level=error"} if codec is VideoCodec.H265 else {})]
        assert not any(s.b_frame for s in no_b)


# -- bad input ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("codec", "data", "problem"), [
    (VideoCodec.H264, b"", "empty"),
    (VideoCodec.H264, b"\x00\x00\x00\x01", "empty NAL unit"),
    (VideoCodec.H264, b"\x00\x00\x00\x01\x65", "cut short"),  # an IDR slice with no header
    (VideoCodec.H264, b"\x00\x00\x00\x01\x67\x64\x00\x0c", "without a picture"),  # an SPS alone
    (VideoCodec.H264, b"\x00\x00\x00\x09\x65\x88", "length-prefixed"),  # AVCC whose length runs past the end
    (VideoCodec.H265, b"garbage that is not video", "length-prefixed"),
    (VideoCodec.H264, b"\x00\x00\x01\xe5\x88\x80", "forbidden bit"),
    (VideoCodec.AV1, b"\x12\x00\x32\x40\x10", "runs past"),
    (VideoCodec.AV1, b"\x12\x00", "without a frame"),
    (VideoCodec.AV1, b"\x92\x00", "forbidden bit"),
])  # fmt: skip
def test_bad_samples_are_conversion_errors(codec, data, problem):
    with pytest.raises(ConversionError, match=problem):
        video_sample(codec, data)


def test_garbled_samples_never_raise_anything_else():
    """Seeded: every cut and bit flip of real samples converts or is a ConversionError."""
    rng = random.Random(11)
    streams = {VideoCodec.H264: encode("libx264", frames(4)), VideoCodec.H265: encode("libx265", frames(4), options={"x265-params": "log-level=error"}),
               VideoCodec.AV1: encode("libsvtav1", frames(4), options={"preset": "12"})}  # fmt: skip
    for codec, packets in streams.items():
        for data, _ in packets:
            for _ in range(200):
                garbled = bytearray(data[: rng.randrange(len(data) + 1)])
                for _ in range(rng.randrange(4)):
                    if garbled:
                        garbled[rng.randrange(len(garbled))] ^= 1 << rng.randrange(8)
                try:
                    video_sample(codec, bytes(garbled))
                except ConversionError:
                    pass


def test_bad_input_through_the_bridge_is_warned_once_and_never_stops_it(tmp_path, caplog):
    """Garbage, a sample cut in its slice header, a codec change mid-stream and an unknown format: skipped, warned once each.

    (A sample cut inside its slice data parses: only a decoder could tell, and the viewer's conceals it.)
    """
    good = encode("libx264", frames(6))
    hevc = encode("libx265", frames(2), options={"x265-params": "log-level=error"})
    payloads = [(good[0][0], "h264"), (b"\x01\x02garbage", "h264"), (good[1][0][:5], "h264"), (hevc[0][0], "h265"),
                (good[2][0], "h264"), (good[3][0], "vp9"), (good[4][0], "h264"), (b"\xff" * 40, "h264")]  # fmt: skip
    messages = [("/v", compressed_video(data, fmt, START_NS + i * PERIOD_NS), START_NS + i * PERIOD_NS)
                for i, (data, fmt) in enumerate(payloads)]  # fmt: skip
    bag = write_bag(tmp_path / "b", messages)
    with caplog.at_level(logging.WARNING, "ros2_rerun_bridge"):
        bridge = bridge_to_rrd(bag, tmp_path / "bad.rrd")
    stats = bridge.stats["/v"]
    assert (stats.logged, stats.failed) == (3, 5)
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "codec changed from h264 to h265" in text and "'vp9' is not one Rerun plays" in text
    assert len(samples(read_recording(tmp_path / "bad.rrd"), "/v")) == 3


def test_encoding_refuses_a_frame_size_change_and_odd_sizes(tmp_path, caplog):
    msg = T["sensor_msgs/msg/Image"]
    def image(w, h, i):
        ns = START_NS + i * PERIOD_NS
        return ("/cam", msg(header=header(ns), height=h, width=w, encoding="rgb8", is_bigendian=0, step=3 * w,
                            data=np.zeros(3 * w * h, np.uint8)), ns)  # fmt: skip
    bag = write_bag(tmp_path / "b", [image(W, H, 0), image(W, H, 1), image(W + 2, H, 2), image(W, H, 3)])
    with caplog.at_level(logging.WARNING, "ros2_rerun_bridge"):
        bridge = bridge_to_rrd(bag, tmp_path / "s.rrd", parse_config({"video": "h264"}))
    assert (bridge.stats["/cam"].logged, bridge.stats["/cam"].failed) == (3, 1)
    assert "frame size changed from 160x120 to 162x120" in caplog.text
    bag = write_bag(tmp_path / "odd", [image(W + 1, H, 0)])
    bridge = bridge_to_rrd(bag, tmp_path / "odd.rrd", parse_config({"video": "h264"}))
    assert bridge.stats["/cam"].failed == 1


@pytest.mark.parametrize("codec", ["h264", "h265", "av1"])
def test_low_latency_gives_each_frame_as_it_is_encoded(codec):
    """For watching live: without it, libx264 and libx265 look ahead about 20 frames (0.7 s at 30 Hz)."""
    rng = np.random.default_rng(0)
    base = rng.integers(0, 255, (120, 160, 3), np.uint8)
    frames = [RawFrame(np.ascontiguousarray(np.roll(base, 4 * i, axis=1)), "rgb24") for i in range(30)]

    def frames_in_before_the_first_sample(options) -> int:
        encoder = VideoEncoder(options)
        return next(i for i, frame in enumerate(frames) if encoder.encode(frame, {"t": i}))

    low = parse_config({"video": {"codec": codec, "low_latency": True}}).video
    assert low.low_latency and frames_in_before_the_first_sample(low) == 0
    if codec != "av1":  # SVT-AV1 is low-delay either way here (pred-struct=1)
        assert frames_in_before_the_first_sample(parse_config({"video": codec}).video) > 10


def test_low_latency_on_the_command_line_reaches_the_encoder(tmp_path, caplog):
    """`--low-latency` with `--video`: x264 says its own settings in the stream (an SEI message): no lookahead."""
    from bridge.cli import main

    bag = write_demo_bag(tmp_path / "demo", frames=4)
    for flags, looks_ahead in (([], True), (["--low-latency"], False)):
        out = tmp_path / f"{len(flags)}.rrd"
        assert main(["replay", str(bag), "-o", str(out), "--include", COLOR_TOPIC, "--video", "h264", *flags]) == 0
        first = samples(read_recording(out), COLOR_TOPIC)[0][1]
        assert (b"rc_lookahead=20" in first and b"mbtree=1" in first) == looks_ahead  # zerolatency: neither
        assert (b"rc_lookahead" not in first and b"mbtree=0" in first) != looks_ahead
    assert main(["replay", str(bag), "-o", str(tmp_path / "none.rrd"), "--low-latency"]) == 2
    assert "--low-latency: no video to encode" in caplog.text
