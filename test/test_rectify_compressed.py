"""Rectification of compressed, Bayer and YUV images, through the `Bridge` into a real .rrd and read back.

The scenes are test_rectify's: dots rendered through a known lens model, which after rectification must lie
where P projects their points (0.5 px), here on the decoded, rectified and re-encoded image; depth must come
out nearest-neighbour (every value one of the source's) and losslessly re-encoded in the source's codec.
"""

from __future__ import annotations

import logging
from pathlib import Path

import cv2
import numpy as np
import pytest

from bridge.conversion.rectify import Calibration, rectify_maps
from bridge.conversion.rvl import CONFIG_HEADER, MEDIA_TYPE as RVL_MEDIA_TYPE, RVL_SIZE, decode_rvl, ros_rvl_payload
from recordings import column, compressed_msg, image_msg, read_recording
from test_rectify import CAMERA_INFO, CASES, FRAME, IMAGE, camera_info, depth_scene, image_cells, render_dots, run_bridge, scene

COMPRESSED = "sensor_msgs/msg/CompressedImage"


def blobs(table, entity: str, kind: str) -> list[tuple[bytes, str]]:
    """(blob, media type) of each EncodedImage/EncodedDepthImage row of `entity`."""
    return [(bytes(blob[0]), media[0]) for blob, media in
            zip(column(table, f"{entity}:{kind}:blob"), column(table, f"{entity}:{kind}:media_type"))]  # fmt: skip


def colour_dots(raw: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """BGR dots: white on black, so that every channel carries the dot."""
    return cv2.cvtColor(render_dots(raw, *size), cv2.COLOR_GRAY2BGR)


@pytest.mark.parametrize(("name", "extension"), [("plumb_bob", ".jpg"), ("equidistant", ".jpg"), ("plumb_bob", ".png")])
def test_compressed_colour_is_rectified_and_reencoded(name: str, extension: str, tmp_path: Path) -> None:
    dots = scene(name)
    source = cv2.imencode(extension, colour_dots(dots.raw, dots.size))[1].tobytes()
    fmt = "bgr8; jpeg compressed bgr8" if extension == ".jpg" else "bgr8; png compressed bgr8"
    path = tmp_path / "c.rrd"
    bridge = run_bridge(path, {"topics": {"/cam/image_raw/compressed": {"rectify": True}}},
                        [("/cam/camera_info", CAMERA_INFO, dots.info),
                         ("/cam/image_raw/compressed", COMPRESSED, compressed_msg(source, fmt, 0, FRAME))])  # fmt: skip
    assert bridge.stats["/cam/image_raw/compressed"].logged == 1

    table = read_recording(path)
    media_type = "image/jpeg" if extension == ".jpg" else "image/png"
    assert blobs(table, "/cam/image_raw/compressed", "EncodedImage") == [(source, media_type)]  # raw, as it came
    ((rectified, rectified_type),) = blobs(table, "/cam/image_raw/compressed/rect", "EncodedImage")
    assert rectified_type == media_type  # re-encoded in the source's format
    pixels = cv2.imdecode(np.frombuffer(rectified, np.uint8), cv2.IMREAD_UNCHANGED)
    assert pixels.shape == (dots.size[1], dots.size[0], 3) and pixels.dtype == np.uint8
    dots.assert_rectified(pixels.mean(axis=2))  # JPEG's artefacts at quality 95 move no dot by 0.5 px
    pinhole = column(table, "/cam/image_raw/compressed/rect:Pinhole:child_frame")[0][0]
    assert pinhole == FRAME + "_rect_image_plane"


def compressed_depth(source: np.ndarray, encoding: str, codec: str) -> bytes:
    """compressed_depth_image_transport's payload: 32FC1 as quantised inverse depth (A, B as its defaults)."""
    if encoding == "16UC1":
        header, image = CONFIG_HEADER.pack(0, 0.0, 0.0), source
    else:
        quant_a, quant_b = 100.0 * 101.0, 1.0 - 100.0 * 101.0 / 10.0  # depth_max 10 m, depth_quantization 100
        with np.errstate(divide="ignore", invalid="ignore"):
            image = np.where(np.isfinite(source), quant_a / source + quant_b, 0).astype(np.uint16)
        header = CONFIG_HEADER.pack(0, quant_a, quant_b)
    if codec == "rvl":
        return ros_rvl_payload(image) if encoding == "16UC1" else header + ros_rvl_payload(image)[CONFIG_HEADER.size :]
    return header + cv2.imencode(".png", image)[1].tobytes()


def decoded_depth(blob: bytes, media_type: str) -> np.ndarray:
    data = np.frombuffer(blob, np.uint8)
    if media_type == RVL_MEDIA_TYPE:
        width, height = RVL_SIZE.unpack_from(data, CONFIG_HEADER.size)
        return decode_rvl(data[CONFIG_HEADER.size + RVL_SIZE.size :], width, height)
    return cv2.imdecode(data, cv2.IMREAD_UNCHANGED)


@pytest.mark.parametrize(("encoding", "codec"), [("16UC1", "png"), ("16UC1", "rvl"), ("32FC1", "png")])
def test_compressed_depth_is_nearest_neighbour_and_lossless(encoding: str, codec: str, tmp_path: Path) -> None:
    model, d, k, p = CASES["plumb_bob"][:4]
    info = camera_info(model, d, k, p, 640, 480)
    source = depth_scene(np.uint16 if encoding == "16UC1" else np.float32)
    msg = compressed_msg(compressed_depth(source, encoding, codec), f"{encoding}; compressedDepth {codec}", 0, FRAME)
    path = tmp_path / "d.rrd"
    run_bridge(path, {"topics": {"/depth/image_raw/compressedDepth": {"rectify": True}}},
               [("/depth/camera_info", CAMERA_INFO, info), ("/depth/image_raw/compressedDepth", COMPRESSED, msg)])  # fmt: skip
    table = read_recording(path)
    entity = "/depth/image_raw/compressedDepth/rect"
    if encoding == "16UC1":  # re-encoded losslessly with the source's codec
        ((blob, media_type),) = blobs(table, entity, "EncodedDepthImage")
        assert media_type == {"png": "image/png", "rvl": RVL_MEDIA_TYPE}[codec]
        rectified = decoded_depth(blob, media_type)
        assert column(table, f"{entity}:EncodedDepthImage:meter")[0][0] == 1000
        decoded_source = source
    else:  # metres, as the raw frame is logged
        (rectified,) = image_cells(table, entity, "DepthImage")
        (decoded_source,) = image_cells(table, "/depth/image_raw/compressedDepth", "DepthImage")
    assert rectified.shape == (480, 640)
    valid = rectified[(rectified != 0) & np.isfinite(rectified)]
    assert valid.size > 0.8 * rectified.size
    assert np.isin(valid, decoded_source).all()  # nothing blended
    maps = rectify_maps(Calibration.from_camera_info(info))
    xs, ys = np.rint(maps.map_x[240, 320]).astype(int), np.rint(maps.map_y[240, 320]).astype(int)
    assert rectified[240, 320] == decoded_source[ys, xs]


def yuv_of_grey(grey: np.ndarray, encoding: str) -> np.ndarray:
    """The bytes of a grey image in a YUV encoding (BT.601 limited range: Y = 16 + 219 g / 255, U = V = 128)."""
    luma = np.rint(16 + grey.astype(np.float64) * 219 / 255).astype(np.uint8)
    height, width = grey.shape
    if encoding in ("nv12", "nv21"):
        return np.concatenate([luma, np.full((height // 2, width), 128, np.uint8)])
    chroma = np.full_like(luma, 128)
    pairs = np.stack([luma, chroma], axis=-1) if encoding == "yuv422_yuy2" else np.stack([chroma, luma], axis=-1)
    return pairs.reshape(height, width * 2)


@pytest.mark.parametrize("encoding", ["bayer_rggb8", "bayer_gbrg16", "yuv422_yuy2", "uyvy", "nv12"])
def test_bayer_and_yuv_are_rectified_in_rgb(encoding: str, tmp_path: Path) -> None:
    """Interpolating raw Bayer or YUV samples would blend colours: they are converted to RGB, then rectified."""
    dots = scene("plumb_bob")
    grey = render_dots(dots.raw, *dots.size)  # grey: every Bayer site and Y carry the dot
    if encoding.startswith("bayer"):
        pixels = grey.astype(np.uint16) * 257 if encoding.endswith("16") else grey
    else:
        pixels = yuv_of_grey(grey, encoding)
    frame = image_msg(pixels, encoding, 0, FRAME, width=dots.size[0], height=dots.size[1])
    path = tmp_path / "y.rrd"
    bridge = run_bridge(path, {"topics": {"/cam/image_raw": {"rectify": True}}},
                        [("/cam/camera_info", CAMERA_INFO, dots.info), ("/cam/image_raw", IMAGE, frame)])  # fmt: skip
    assert bridge.stats["/cam/image_raw"].logged == 1
    table = read_recording(path)
    (rectified,) = image_cells(table, "/cam/image_raw/rect")
    assert rectified.shape == (dots.size[1], dots.size[0], 3)
    assert column(table, "/cam/image_raw/rect:Image:format")[0][0]["color_model"] is not None  # RGB
    dots.assert_rectified(rectified.astype(np.float64).mean(axis=2) / (257 if rectified.dtype == np.uint16 else 1))


def test_replay_rectify_compressed_from_a_bag(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """`replay --rectify` through a real bag and the command line: the compressed topic of a raw image is rectified
    with its camera's camera_info (image_transport's sibling: its frame is not the images'), a rectified one is not."""
    from bridge.cli import main
    from recordings import write_bag

    dots = scene("plumb_bob")
    jpeg = cv2.imencode(".jpg", colour_dots(dots.raw, dots.size))[1].tobytes()
    dots.info.header.frame_id = "calibration_frame"
    messages = []
    for index in range(2):
        ns = (index + 1) * 100_000_000
        dots.info.header.stamp.nanosec = ns
        messages += [("/cam/camera_info", dots.info, ns),
                     ("/cam/image_raw/compressed", compressed_msg(jpeg, "jpeg", ns, FRAME), ns),
                     ("/cam/image_rect/compressed", compressed_msg(jpeg, "jpeg", ns, FRAME), ns)]  # fmt: skip
    bag = write_bag(tmp_path / "bag", messages)
    with caplog.at_level(logging.WARNING, logger="ros2_rerun_bridge"):
        assert main(["replay", "--no-progress", "--rectify", str(bag), "-o", str(tmp_path / "out.rrd")]) == 0
    table = read_recording(tmp_path / "out.rrd")
    rectified = blobs(table, "/cam/image_raw/compressed/rect", "EncodedImage")
    assert len(rectified) == 2 and {media for _, media in rectified} == {"image/jpeg"}
    dots.assert_rectified(cv2.imdecode(np.frombuffer(rectified[0][0], np.uint8), cv2.IMREAD_GRAYSCALE))
    assert len(blobs(table, "/cam/image_raw/compressed", "EncodedImage")) == 2
    assert not any(name.startswith("/cam/image_rect/compressed/rect") for name in table.column_names)
    assert not [r.getMessage() for r in caplog.records if "rectif" in r.getMessage()]


@pytest.mark.parametrize("source", ["rgb8", "jpeg"])
def test_topic_encoded_as_video_has_its_rectified_frames_encoded_too(source: str, tmp_path: Path) -> None:
    """With `video`, the rectified frames go to an encoder of their own, at the rectified entity with its Pinhole;
    decoded back, the dots lie where P projects them (H.264 at the default quality moves none by 0.5 px)."""
    from test_video import decode, samples

    dots = scene("plumb_bob")
    bgr = colour_dots(dots.raw, dots.size)
    if source == "rgb8":
        topic, msgtype = "/cam/image_raw", IMAGE
        frames = [image_msg(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), "rgb8", i, FRAME) for i in range(3)]
        options = {"video": {"codec": "h264"}, "rectify": True}
    else:
        topic, msgtype = "/cam/image_raw/compressed", COMPRESSED
        frames = [compressed_msg(cv2.imencode(".jpg", bgr)[1].tobytes(), "jpeg", i, FRAME) for i in range(3)]
        options = {"video": {"codec": "h264"}, "rectify": {"keep_raw": False}}
    path = tmp_path / "v.rrd"
    bridge = run_bridge(path, {"topics": {topic: options}},
                        [("/cam/camera_info", CAMERA_INFO, dots.info)] + [(topic, msgtype, frame) for frame in frames])  # fmt: skip
    assert bridge.stats[topic].logged == 3
    table = read_recording(path)
    rectified = samples(table, topic + "/rect")
    assert len(rectified) == 3 and rectified[0][2], "one sample per frame, a keyframe first"
    decoded = decode("h264", [data for _, data, _ in rectified])
    assert len(decoded) == 3
    for frame in decoded:
        dots.assert_rectified(frame.to_ndarray(format="gray").astype(np.float64))
    assert column(table, f"{topic}/rect:Pinhole:child_frame")[0][0] == FRAME + "_rect_image_plane"
    raw_columns = [name for name in table.column_names if name.startswith(f"{topic}:VideoStream:sample")]
    assert len(raw_columns) == (1 if source == "rgb8" else 0)  # beside the raw video, or instead of it
    if raw_columns:
        assert len(samples(table, topic)) == 3


def test_video_passed_through_says_it_is_not_rectified(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A topic passed through as video cannot be rectified here: said once, and its samples are logged."""
    from test_video import encode, frames

    units = [data for data, _ in encode("libx264", frames(2))]
    with caplog.at_level(logging.WARNING, logger="ros2_rerun_bridge"):
        bridge = run_bridge(tmp_path / "v.rrd", {"topics": {"/cam/image_raw/h264": {"rectify": True}}},
                            [("/cam/image_raw/h264", COMPRESSED, compressed_msg(unit, "h264", i, FRAME))
                             for i, unit in enumerate(units)])  # fmt: skip
    assert bridge.stats["/cam/image_raw/h264"].logged == 2
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 1 and "not rectified" in warnings[0], warnings
