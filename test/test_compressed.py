"""`sensor_msgs/CompressedImage` through `convert_compressed_image` into a real .rrd.

compressedDepth payloads are built the way `compressed_depth_image_transport`'s
codec.cpp builds them: a 12-byte little-endian `ConfigHeader {int32 format;
float depthParam[2]}`, then a 16-bit greyscale PNG or `uint32 cols, rows` and
an RVL stream. 32FC1 is quantised as inverse depth, `q = uint16(A / d + B)`,
with `A = z0 * (z0 + 1)`, `B = 1 - A / depth_max` and the publisher's default
`depth_max` = 10 m, `depth_quantization` (z0) = 100.

What goes through undecoded must be whole: every malformed case below, a bit
flip or truncation included, is rejected with a ConversionError. Sizes are
checked against the pixel limit before anything is decoded: the bombs (a few
bytes of RVL, a PNG of zeros, each declaring 16384x16384) are turned away.
"""

from __future__ import annotations

import os
import struct
import subprocess
import sys
import zlib
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from bridge.conversion import DEFAULT_MAX_PIXELS, ConversionError, DepthOptions, convert_compressed_image
from bridge.conversion.rvl import encode_rvl
from readback import read_back
from recordings import compressed_msg
from test_rvl import zero_run

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
EOI = b"\xff\xd9"
SOF0 = JPEG.index(b"\xff\xc0")  # the frame header: FF C0, length, precision, height, width, ...
SOF0_END = SOF0 + 2 + struct.unpack_from(">H", JPEG, SOF0 + 2)[0]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PNG_IHDR_END = len(PNG_SIGNATURE) + 25  # length, type, 13 bytes of header, CRC


def jpeg_of_size(width: int, height: int) -> bytes:
    """JPEG with its frame header claiming another size: the viewer would allocate for that size."""
    return JPEG[: SOF0 + 5] + struct.pack(">HH", height, width) + JPEG[SOF0 + 9 :]


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_header(width: int, height: int, bit_depth: int = 8, colour_type: int = 2, interlace: int = 0) -> bytes:
    return png_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, interlace))


def png_with_header(header: bytes) -> bytes:
    """PNG with another IHDR chunk (its CRC right): the image chunks are left as they are."""
    return PNG_SIGNATURE + header + PNG[PNG_IHDR_END:]


def png_of_zeros(width: int, height: int, bit_depth: int = 16) -> bytes:
    """A real greyscale PNG of zeros, a thousand times smaller than its pixels: a decompression bomb when large.

    Each row is deflated as a block of its own (a full flush forgets the history), so that one row's block,
    repeated, is the whole stream: building a 16384x16384 bomb takes a millisecond, not a 512 MB image.
    """
    row = bytes(1 + width * bit_depth // 8)  # filter type 0, then the samples
    deflate = zlib.compressobj(9, wbits=-15)
    block = deflate.compress(row) + deflate.flush(zlib.Z_FULL_FLUSH)
    adler = (len(row) * height % 65521) << 16 | 1  # Adler-32 of zeros: the sum stays 1, the sum of sums counts
    stream = b"\x78\xda" + block * height + deflate.flush(zlib.Z_FINISH) + struct.pack(">I", adler)
    chunks = png_header(width, height, bit_depth, 0) + png_chunk(b"IDAT", stream) + png_chunk(b"IEND", b"")
    return PNG_SIGNATURE + chunks


def flipped(data: bytes, index: int) -> bytes:
    """`data` with one bit of byte `index` flipped."""
    return data[:index] + bytes([data[index] ^ 0x10]) + data[index + 1 :]


ENCODED = {  # name -> (format string, data, media type)
    "jpeg": ("jpeg", JPEG, "image/jpeg"),
    "jpeg_progressive": ("jpeg", cv2.imencode(".jpg", COLOUR, [cv2.IMWRITE_JPEG_PROGRESSIVE, 1])[1].tobytes(),
                         "image/jpeg"),
    "jpeg_restart_markers": ("jpeg", cv2.imencode(".jpg", COLOUR, [cv2.IMWRITE_JPEG_RST_INTERVAL, 1])[1].tobytes(),
                             "image/jpeg"),
    "jpeg_fill_bytes": ("jpeg", JPEG[:SOF0] + b"\xff\xff" + JPEG[SOF0:], "image/jpeg"),  # FF may pad any marker
    "jpeg_zero_padded": ("jpeg", JPEG + bytes(100), "image/jpeg"),  # some cameras pad their frames
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


def depth_png(png: bytes, encoding: str = "16UC1") -> tuple[str, bytes]:
    return f"{encoding}; compressedDepth png", CONFIG_HEADER.pack(0, 1, 1) + png


def depth_rvl(width: int, height: int, stream: bytes, encoding: str = "16UC1") -> tuple[str, bytes]:
    return f"{encoding}; compressedDepth rvl", CONFIG_HEADER.pack(0, 1, 1) + struct.pack("<II", width, height) + stream


GARBAGE = RNG.integers(0, 255, 64, dtype=np.uint8).tobytes()
TRUNCATED = slice(None, -40)  # the last 40 bytes lost
PNG16 = png16(MILLIMETRES)
PNG16_IDAT = PNG16.index(b"IDAT") + 8  # a byte inside the compressed pixels
LIMIT = f"exceeds the limit of {DEFAULT_MAX_PIXELS} pixels"
MALFORMED = {
    "empty": ("jpeg", b"", "empty compressed image"),
    "garbage_jpeg": ("jpeg", GARBAGE, r"format 'jpeg' is neither JPEG nor PNG"),
    "unknown_format": ("tiff", b"II*\x00" + GARBAGE, r"format 'tiff' is neither JPEG nor PNG"),
    "garbage_no_format": ("", GARBAGE, r"format '' is neither JPEG nor PNG"),
    # JPEG: the marker segments up to the scan, and the end-of-image marker after it.
    "jpeg_truncated": ("jpeg", JPEG[:-40], "truncated JPEG: no end-of-image marker"),
    "jpeg_half": ("jpeg", JPEG[: len(JPEG) // 2], "truncated JPEG: no end-of-image marker"),
    "jpeg_headers_only": ("jpeg", JPEG[:SOF0] + EOI, "truncated JPEG: it ends before its scan"),
    "jpeg_garbage_after_app0": ("jpeg", JPEG[:20] + bytes(30) + EOI, "corrupt JPEG: no marker at byte 20"),
    "jpeg_segment_too_long": ("jpeg", JPEG[:4] + b"\xff\xff" + JPEG[6:],
                              "truncated JPEG: segment FFE0 runs past the end of the data"),
    "jpeg_segment_length_0": ("jpeg", JPEG[:4] + b"\x00\x00" + JPEG[6:], "corrupt JPEG: marker FFE0 at byte 2"),
    "jpeg_eoi_before_scan": ("jpeg", JPEG[:20] + EOI + JPEG[20:], "corrupt JPEG: marker FFD9 at byte 20 before"),
    "jpeg_no_frame_header": ("jpeg", JPEG[:SOF0] + JPEG[SOF0_END:], "corrupt JPEG: no frame header before its scan"),
    "jpeg_short_frame_header": ("jpeg", JPEG[:SOF0] + b"\xff\xc0\x00\x02" + JPEG[SOF0_END:],
                                "corrupt JPEG: frame header FFC0 of 2 bytes"),
    "jpeg_too_large": ("jpeg", jpeg_of_size(65535, 65535), f"JPEG image of 65535x65535 {LIMIT}"),
    "jpeg_no_height": ("jpeg", jpeg_of_size(WIDTH, 0), rf"empty JPEG image \({WIDTH}x0\)"),  # DNL: unsupported
    # PNG: every chunk's length and CRC, IHDR first and sane, IDAT, IEND last.
    "png_truncated": ("png", PNG[:-40], "truncated PNG: chunk IDAT runs past the end of the data"),
    "png_no_iend": ("png", PNG[:-12], "truncated PNG: no IEND chunk"),
    "png_cut_chunk_header": ("png", PNG[:-6], "truncated PNG: a chunk header at byte"),
    "png_garbage": ("png", PNG_SIGNATURE + GARBAGE, "corrupt PNG: no chunk type at byte 8"),
    "png_idat_bit_flip": ("png", flipped(PNG, PNG.index(b"IDAT") + 8), "PNG chunk IDAT: CRC mismatch"),
    "png_ihdr_bit_flip": ("png", flipped(PNG, 20), "PNG chunk IHDR: CRC mismatch"),
    "png_iend_bit_flip": ("png", flipped(PNG, len(PNG) - 1), "PNG chunk IEND: CRC mismatch"),
    "png_ihdr_not_first": ("png", PNG_SIGNATURE + png_chunk(b"tEXt", b"a\0b") + PNG[8:],
                           "corrupt PNG: its first chunk is tEXt, not IHDR"),
    "png_no_idat": ("png", PNG[:PNG_IHDR_END] + png_chunk(b"IEND", b""), r"corrupt PNG: no IDAT chunk \(no pixels\)"),
    "png_data_after_iend": ("png", PNG + b"junk", "corrupt PNG: 4 bytes after IEND"),
    "png_short_ihdr": ("png", png_with_header(png_chunk(b"IHDR", bytes(12))), r"IHDR of 12 bytes \(not 13\)"),
    "png_bad_bit_depth": ("png", png_with_header(png_header(WIDTH, HEIGHT, bit_depth=3)),
                          "IHDR bit depth 3 with colour type 2"),
    "png_bad_colour_type": ("png", png_with_header(png_header(WIDTH, HEIGHT, colour_type=5)),
                            "IHDR bit depth 8 with colour type 5"),
    "png_bad_interlace": ("png", png_with_header(png_header(WIDTH, HEIGHT, interlace=2)), "interlace 2 methods"),
    "png_too_large": ("png", png_with_header(png_header(65535, 65535)), f"PNG image of 65535x65535 {LIMIT}"),
    "png_zero_width": ("png", png_with_header(png_header(0, HEIGHT)), rf"empty PNG image \(0x{HEIGHT}\)"),
    # compressedDepth
    "header_only": ("16UC1; compressedDepth png", CONFIG_HEADER.pack(0, 0, 0), "no room for its header"),
    "png16_truncated": (*with_payload(*compressed_depth("16UC1", "png"), TRUNCATED), "truncated PNG"),
    "png16_corrupt_idat": (*depth_png(flipped(PNG16, PNG16_IDAT)), "PNG chunk IDAT: CRC mismatch"),
    "png16_garbage": (*depth_png(GARBAGE), r"not a PNG \(no PNG signature\)"),
    "png16_8bit": (*depth_png(png16(MILLIMETRES.astype(np.uint8))), "not a 16-bit greyscale PNG"),
    "png16_too_large": (*depth_png(png_of_zeros(16384, 16384)), f"PNG image of 16384x16384 {LIMIT}"),
    "png32_truncated": (*with_payload(*compressed_depth("32FC1", "png"), TRUNCATED), "truncated PNG"),
    "png32_corrupt_idat": (*depth_png(flipped(PNG16, PNG16_IDAT), "32FC1"), "PNG chunk IDAT: CRC mismatch"),
    "png32_8bit": (*depth_png(png16(MILLIMETRES.astype(np.uint8)), "32FC1"), "not a 16-bit greyscale PNG"),
    "png32_too_large": (*depth_png(png_of_zeros(16384, 16384), "32FC1"), f"PNG image of 16384x16384 {LIMIT}"),
    "rvl16_truncated": (*with_payload(*compressed_depth("16UC1", "rvl"), TRUNCATED), "RVL stream ends before"),
    "rvl16_no_size": (*with_payload(*compressed_depth("16UC1", "rvl"), slice(None, 4)), "rvl payload has no room"),
    "rvl16_zero_size": (*depth_rvl(0, 0, GARBAGE), r"empty RVL image \(0x0\)"),
    "rvl16_too_large": (*depth_rvl(16384, 16384, zero_run(16384 * 16384)), f"RVL image of 16384x16384 {LIMIT}"),
    "rvl32_truncated": (*with_payload(*compressed_depth("32FC1", "rvl"), TRUNCATED), "RVL stream ends before"),
    "rvl32_garbage": (*depth_rvl(8, 6, GARBAGE, "32FC1"), "RVL stream"),
    "rvl32_too_large": (*depth_rvl(16384, 16384, zero_run(16384 * 16384), "32FC1"),
                        f"RVL image of 16384x16384 {LIMIT}"),
    "32FC1_no_quantisation": ("32FC1; compressedDepth png", CONFIG_HEADER.pack(0, 0.0, 1.0) + PNG16,
                              "unusable depth parameters A=0.0"),
    "32FC1_nan_quantisation": ("32FC1; compressedDepth", UNINITIALISED_HEADER + PNG16, "unusable depth parameters"),
    "unsupported_encoding": ("8UC1; compressedDepth png", CONFIG_HEADER.pack(0, 0, 0) + PNG16,
                             r"compressedDepth of '8UC1' \(16UC1 and 32FC1 are supported\)"),
    "unknown_codec": ("16UC1; compressedDepth zstd", CONFIG_HEADER.pack(0, 0, 0) + GARBAGE,
                      r"unknown compressedDepth codec 'zstd'"),
}  # fmt: skip


@pytest.mark.parametrize(("fmt", "data", "problem"), MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_compressed_image_is_a_conversion_error(fmt, data, problem):
    with pytest.raises(ConversionError, match=problem):
        convert_compressed_image(compressed_msg(data, fmt))


def test_png_of_zeros_is_a_real_png():
    """The bombs above are what they claim: a PNG that decodes, to zeros, at the size it declares."""
    np.testing.assert_array_equal(cv2.imdecode(np.frombuffer(png_of_zeros(40, 30), np.uint8), cv2.IMREAD_UNCHANGED),
                                  np.zeros((30, 40), np.uint16))  # fmt: skip
    assert len(png_of_zeros(16384, 16384)) < 1_000_000


LIMITED = {name: (fmt, data) for name, (fmt, data, _) in ENCODED.items()} | {
    name: format_and_data for name, (format_and_data, _, _) in DEPTH.items()
}


@pytest.mark.parametrize(("fmt", "data"), LIMITED.values(), ids=LIMITED.keys())
def test_pixel_limit_is_inclusive(fmt, data):
    """Every codec's declared size (JPEG frame header, PNG IHDR, RVL size) counts against `max_pixels`."""
    msg = compressed_msg(data, fmt)
    assert convert_compressed_image(msg, max_pixels=WIDTH * HEIGHT) is not None
    with pytest.raises(ConversionError, match=f"image of {WIDTH}x{HEIGHT} exceeds the limit of {WIDTH * HEIGHT - 1}"):
        convert_compressed_image(msg, max_pixels=WIDTH * HEIGHT - 1)


BOMBS = {  # name -> (format string, data): a few bytes or KB declaring 16384x16384, and the largest allowed
    "rvl_16UC1": depth_rvl(16384, 16384, zero_run(16384 * 16384)),
    "rvl_32FC1": depth_rvl(16384, 16384, zero_run(16384 * 16384), "32FC1"),
    "png_16UC1": depth_png(png_of_zeros(16384, 16384)),
    "png_32FC1": depth_png(png_of_zeros(16384, 16384), "32FC1"),
    "png": ("png", png_of_zeros(16384, 16384, bit_depth=8)),
    "jpeg": ("jpeg", jpeg_of_size(16384, 16384)),
}
SIDE = int(DEFAULT_MAX_PIXELS**0.5)  # the largest square frame allowed
ALLOWED = {  # decoded here at the limit: the worst any input can do
    "rvl_32FC1_at_limit": depth_rvl(SIDE, SIDE, zero_run(SIDE * SIDE), "32FC1"),
    "png_32FC1_at_limit": depth_png(png_of_zeros(SIDE, SIDE), "32FC1"),
}


def peak_rss_mb(cases: str) -> float:
    """How far a fresh Python's peak RSS rises converting test_compressed.`cases`, in MB (ru_maxrss is in KiB).

    A process of its own, as the peak of this one is already set by whatever ran before.
    """
    script = f"""
import resource
import bridge.conversion.opencv  # imported by the first PNG decoded: not the conversion's memory
import test_compressed
from bridge.conversion import ConversionError, convert_compressed_image
from bridge.conversion.warm_up import warm_up
from recordings import compressed_msg

warm_up()
messages = [compressed_msg(data, fmt) for fmt, data in test_compressed.{cases}.values()]
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
for msg in messages:
    try:
        convert_compressed_image(msg)
    except ConversionError:
        pass
print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024)
"""
    test_dir = Path(__file__).parent
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(test_dir), str(test_dir.parent)])}  # these tests' bridge
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, env=env)
    return float(result.stdout.split()[-1])


def test_decompression_bombs_are_rejected_before_they_take_memory():
    """1.4 to 3.6 GB each before the pixel limit; now each is turned away by its header."""
    assert peak_rss_mb("BOMBS") < 50


def test_largest_allowed_frame_costs_little_more_than_itself():
    """32FC1 frames of DEFAULT_MAX_PIXELS from a few bytes: the metres are 128 MB of float32 (what is logged),
    decoded from 64 MB of uint16, with a 32 MB mask of the invalid pixels; about 225 MB in all, measured."""
    assert peak_rss_mb("ALLOWED") < 320
