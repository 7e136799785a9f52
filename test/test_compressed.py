"""`sensor_msgs/CompressedImage` through `convert_compressed_image` into a real .rrd.

compressedDepth payloads are built the way `compressed_depth_image_transport`'s
codec.cpp builds them: a 12-byte little-endian `ConfigHeader {int32 format;
float depthParam[2]}`, then a 16-bit greyscale PNG or `uint32 cols, rows` and
an RVL stream. 32FC1 is quantised as inverse depth, `q = uint16(A / d + B)`,
with `A = z0 * (z0 + 1)`, `B = 1 - A / depth_max` and the publisher's default
`depth_max` = 10 m, `depth_quantization` (z0) = 100.
"""

from __future__ import annotations

import struct
from typing import Any

import cv2
import numpy as np
import pytest

from bridge.conversion import ConversionError, DepthOptions, convert_compressed_image
from bridge.conversion.rvl import encode_rvl
from readback import read_back
from recordings import compressed_msg

RNG = np.random.default_rng(2012)
HEIGHT, WIDTH = 6, 8

CONFIG_HEADER = struct.Struct("<iff")
INV_DEPTH = 0  # compression_common.h: enum compressionFormat { UNDEFINED = -1, INV_DEPTH }
DEPTH_MAX = np.float32(10.0)
QUANT_A = np.float32(100.0 * (100.0 + 1.0))
QUANT_B = np.float32(1.0) - QUANT_A / DEPTH_MAX
UNINITIALISED_HEADER = b"\xde\xad\xbe\xef\xff\xff\xff\x7f\x00\x00\x80\xff"  # garbage format, NaN, -inf

MILLIMETRES = RNG.integers(200, 9000, (HEIGHT, WIDTH), dtype=np.uint16)
MILLIMETRES[RNG.random((HEIGHT, WIDTH)) < 0.2] = 0  # no depth
METRES = RNG.uniform(0.3, 3.0, (HEIGHT, WIDTH)).astype(np.float32)  # at most 0.9 mm of quantisation error
METRES[0, :3] = (np.nan, DEPTH_MAX, 12.0)  # none of these is below depth_max: coded as q = 0, no depth


def quantise(metres: np.ndarray) -> np.ndarray:
    """codec.cpp's encoder: float arithmetic, truncated to uint16; q = 0 where d is not below depth_max."""
    with np.errstate(invalid="ignore", divide="ignore"):
        valid = metres < DEPTH_MAX
        inverse = np.where(valid, QUANT_A / metres + QUANT_B, 0)
    return inverse.astype(np.uint16)


def png16(image: np.ndarray) -> bytes:
    ok, encoded = cv2.imencode(".png", image, [cv2.IMWRITE_PNG_COMPRESSION, 9])
    assert ok
    return encoded.tobytes()


def rvl(image: np.ndarray) -> bytes:
    return struct.pack("<II", image.shape[1], image.shape[0]) + encode_rvl(image)


def compressed_depth(encoding: str, codec: str | None, header: bytes | None = None) -> tuple[str, bytes]:
    """(format string, data) as the publisher sends them; `codec` None is the old format string (PNG)."""
    if encoding == "16UC1":
        image, params = MILLIMETRES, (0.0, 0.0)  # the 16-bit path leaves depthParam zero
    else:
        image, params = quantise(METRES), (float(QUANT_A), float(QUANT_B))
    header = CONFIG_HEADER.pack(INV_DEPTH, *params) if header is None else header
    fmt = f"{encoding}; compressedDepth" + (f" {codec}" if codec else "")
    return fmt, header + (rvl(image) if codec == "rvl" else png16(image))


COLOUR = cv2.cvtColor(RNG.integers(0, 255, (HEIGHT, WIDTH, 3), dtype=np.uint8), cv2.COLOR_RGB2BGR)
JPEG = cv2.imencode(".jpg", COLOUR)[1].tobytes()
PNG = cv2.imencode(".png", COLOUR)[1].tobytes()
ENCODED = {  # name -> (format string, data, media type)
    "jpeg": ("jpeg", JPEG, "image/jpeg"),
    "png": ("png", PNG, "image/png"),
    "image_transport_jpeg": ("rgb8; jpeg compressed bgr8", JPEG, "image/jpeg"),
    "image_transport_png": ("bgr8; png compressed bgr8", PNG, "image/png"),
    "no_format_jpeg": ("", JPEG, "image/jpeg"),
    "no_format_png": ("", PNG, "image/png"),
    "mislabelled_png": ("jpeg", PNG, "image/png"),  # the bytes, not the label, tell the viewer how to decode
}
DEPTH = {  # name -> ((format string, data), options, meter that must arrive)
    "16UC1_png": (compressed_depth("16UC1", "png"), DepthOptions(), 1000.0),
    "16UC1_png_uninitialised": (compressed_depth("16UC1", "png", UNINITIALISED_HEADER), DepthOptions(), 1000.0),
    "16UC1_png_meter": (compressed_depth("16UC1", "png"), DepthOptions(meter=250.0), 250.0),
    "16UC1_rvl": (compressed_depth("16UC1", "rvl"), DepthOptions(), 1000.0),
    "16UC1_rvl_uninitialised": (compressed_depth("16UC1", "rvl", UNINITIALISED_HEADER), DepthOptions(), 1000.0),
    "32FC1_png": (compressed_depth("32FC1", "png"), DepthOptions(), 1.0),
    "32FC1_rvl": (compressed_depth("32FC1", "rvl"), DepthOptions(), 1.0),
    "32FC1_old_format": (compressed_depth("32FC1", None), DepthOptions(), 1.0),
    "32FC1_meter": (compressed_depth("32FC1", "rvl"), DepthOptions(meter=0.5), 0.5),
}


@pytest.fixture(scope="module")
def arrived(tmp_path_factory) -> dict[str, dict[str, Any]]:
    """Every case converted and logged into one recording, read back through Rerun."""
    archetypes = {
        f"/{name}": convert_compressed_image(compressed_msg(data, fmt)) for name, (fmt, data, _) in ENCODED.items()
    }
    for name, ((fmt, data), options, _) in DEPTH.items():
        archetypes[f"/{name}"] = convert_compressed_image(compressed_msg(data, fmt), depth=options)
    return read_back(tmp_path_factory.mktemp("compressed") / "compressed.rrd", archetypes)


@pytest.mark.parametrize("name", ENCODED)
def test_jpeg_and_png_go_through_unchanged(name, arrived):
    _, data, media_type = ENCODED[name]
    stored = arrived[f"/{name}"]
    assert stored["archetype"] == "EncodedImage"
    assert bytes(stored["blob"]) == data
    assert stored["media_type"] == media_type


@pytest.mark.parametrize("name", ["16UC1_png", "16UC1_png_uninitialised", "16UC1_png_meter"])
def test_16uc1_png_goes_through_as_encoded_depth(name, arrived):
    """The PNG without its header reaches Rerun undecoded; it decodes to the original millimetres."""
    (_, data), _, meter = DEPTH[name]
    stored = arrived[f"/{name}"]
    assert stored["archetype"] == "EncodedDepthImage"
    assert bytes(stored["blob"]) == data[CONFIG_HEADER.size :]
    assert stored["media_type"] == "image/png"
    assert stored["meter"] == meter
    np.testing.assert_array_equal(cv2.imdecode(np.array(stored["blob"], np.uint8), cv2.IMREAD_UNCHANGED), MILLIMETRES)


def stored_depth(stored: dict[str, Any], dtype: str) -> np.ndarray:
    fmt = stored["format"]
    assert (fmt["width"], fmt["height"]) == (WIDTH, HEIGHT)
    return np.frombuffer(bytes(stored["buffer"]), dtype).reshape(HEIGHT, WIDTH)


@pytest.mark.parametrize("name", ["16UC1_rvl", "16UC1_rvl_uninitialised"])
def test_16uc1_rvl_is_millimetres(name, arrived):
    stored = arrived[f"/{name}"]
    assert stored["archetype"] == "DepthImage"
    assert stored["meter"] == DEPTH[name][2]
    np.testing.assert_array_equal(stored_depth(stored, "<u2"), MILLIMETRES)


@pytest.mark.parametrize("name", ["32FC1_png", "32FC1_rvl", "32FC1_old_format", "32FC1_meter"])
def test_32fc1_is_metres_to_the_millimetre(name, arrived):
    stored = arrived[f"/{name}"]
    assert stored["archetype"] == "DepthImage"
    assert stored["meter"] == DEPTH[name][2]
    metres = stored_depth(stored, "<f4")
    invalid = ~(METRES < DEPTH_MAX)
    np.testing.assert_array_equal(np.isnan(metres), invalid)
    np.testing.assert_allclose(metres[~invalid], METRES[~invalid], rtol=0, atol=1e-3)


def with_payload(fmt: str, data: bytes, cut: slice) -> tuple[str, bytes]:
    return fmt, data[: CONFIG_HEADER.size] + data[CONFIG_HEADER.size :][cut]


GARBAGE = RNG.integers(0, 255, 64, dtype=np.uint8).tobytes()
TRUNCATED = slice(None, -40)  # the last 40 bytes lost
MALFORMED = {
    "empty": ("jpeg", b"", "empty compressed image"),
    "garbage_jpeg": ("jpeg", GARBAGE, r"format 'jpeg' is neither JPEG nor PNG"),
    "unknown_format": ("tiff", b"II*\x00" + GARBAGE, r"format 'tiff' is neither JPEG nor PNG"),
    "garbage_no_format": ("", GARBAGE, r"format '' is neither JPEG nor PNG"),
    "header_only": ("16UC1; compressedDepth png", CONFIG_HEADER.pack(0, 0, 0), "no room for its header"),
    "png16_truncated": (*with_payload(*compressed_depth("16UC1", "png"), TRUNCATED), "png payload is not a complete"),
    "png16_garbage": ("16UC1; compressedDepth png", CONFIG_HEADER.pack(0, 0, 0) + GARBAGE, "png payload is not a PNG"),
    "png16_8bit": ("16UC1; compressedDepth png", CONFIG_HEADER.pack(0, 0, 0) + png16(MILLIMETRES.astype(np.uint8)),
                   "not a 16-bit greyscale PNG"),
    "rvl16_truncated": (*with_payload(*compressed_depth("16UC1", "rvl"), TRUNCATED), "RVL stream ends before"),
    "rvl16_no_size": (*with_payload(*compressed_depth("16UC1", "rvl"), slice(None, 4)), "rvl payload has no room"),
    "rvl16_zero_size": ("16UC1; compressedDepth rvl", CONFIG_HEADER.pack(0, 0, 0) + bytes(8) + GARBAGE,
                        "rvl payload claims an image of 0x0"),
    "png32_truncated": (*with_payload(*compressed_depth("32FC1", "png"), TRUNCATED), "png payload is not a complete"),
    "png32_8bit": ("32FC1; compressedDepth png", CONFIG_HEADER.pack(0, 1, 1) + png16(MILLIMETRES.astype(np.uint8)),
                   "not a 16-bit greyscale PNG"),
    "rvl32_truncated": (*with_payload(*compressed_depth("32FC1", "rvl"), TRUNCATED), "RVL stream ends before"),
    "rvl32_garbage": ("32FC1; compressedDepth rvl", CONFIG_HEADER.pack(0, 1, 1) + struct.pack("<II", 8, 6) + GARBAGE,
                      "RVL stream"),
    "32FC1_no_quantisation": ("32FC1; compressedDepth png", CONFIG_HEADER.pack(0, 0.0, 1.0) + png16(MILLIMETRES),
                              "unusable depth parameters A=0.0"),
    "32FC1_nan_quantisation": ("32FC1; compressedDepth", UNINITIALISED_HEADER + png16(MILLIMETRES),
                               "unusable depth parameters"),
    "unsupported_encoding": ("8UC1; compressedDepth png", CONFIG_HEADER.pack(0, 0, 0) + png16(MILLIMETRES),
                             r"compressedDepth of '8UC1' \(16UC1 and 32FC1 are supported\)"),
    "unknown_codec": ("16UC1; compressedDepth zstd", CONFIG_HEADER.pack(0, 0, 0) + GARBAGE,
                      r"unknown compressedDepth codec 'zstd'"),
}  # fmt: skip


@pytest.mark.parametrize(("fmt", "data", "problem"), MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_compressed_image_is_a_conversion_error(fmt, data, problem):
    with pytest.raises(ConversionError, match=problem):
        convert_compressed_image(compressed_msg(data, fmt))
