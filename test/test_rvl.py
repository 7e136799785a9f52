"""RVL, the lossless depth codec of `compressed_depth_image_transport` (rvl_codec.cpp)."""

from __future__ import annotations

import numpy as np
import pytest

from bridge.conversion import DEFAULT_MAX_PIXELS, ConversionError
from bridge.conversion.rvl import decode_rvl, encode_rvl

RNG = np.random.default_rng(2017)


def zero_run(count: int) -> bytes:
    """The RVL stream of `count` zeros: one run, a few bytes whatever the count (a decompression bomb when large).

    `encode_rvl` would walk every pixel; here the two counts are coded directly, as rvl_codec.cpp would.
    """
    nibbles = []
    for value in (count, 0):  # the zeros, then no non-zeros
        while True:
            nibbles.append((value & 0x7) | (0x8 if value >> 3 else 0))
            value >>= 3
            if not value:
                break
    nibbles += [0] * (-len(nibbles) % 8)
    packed = np.array(nibbles, np.uint32).reshape(-1, 8) << np.arange(28, -1, -4, dtype=np.uint32)
    return np.bitwise_or.reduce(packed, axis=1).astype("<u4").tobytes()


def sparse_depth(height: int, width: int, zero_fraction: float, low: int = 1, high: int = 65535) -> np.ndarray:
    depth = RNG.integers(low, high, (height, width), dtype=np.uint16, endpoint=True)
    depth[RNG.random((height, width)) < zero_fraction] = 0
    return depth


IMAGES = {
    "random_with_zeros": sparse_depth(48, 64, 0.3, 400, 8000),
    "mostly_zeros": sparse_depth(30, 40, 0.95),
    "no_zeros": sparse_depth(17, 23, 0.0, 500, 600),
    "all_zeros": np.zeros((24, 32), np.uint16),
    "near_65535": sparse_depth(16, 16, 0.2, 65500),
    "full_range_jumps": np.tile(np.array([1, 65535, 0, 65535, 1, 2], np.uint16), (5, 4)),
    "one_pixel": np.array([[42]], np.uint16),
    "vga": sparse_depth(480, 640, 0.1, 300, 10000),
}


@pytest.mark.parametrize("depth", IMAGES.values(), ids=IMAGES.keys())
def test_round_trip_is_lossless(depth):
    decoded = decode_rvl(encode_rvl(depth), depth.shape[1], depth.shape[0])
    assert decoded.dtype == np.uint16
    np.testing.assert_array_equal(decoded, depth)


def test_wire_format_matches_rvl_codec():
    """[0, 0, 5]: 2 zeros, 1 non-zero, zig-zag delta 10 (nibbles 0xA, 0x1), packed most significant nibble first."""
    stream = encode_rvl(np.array([[0, 0, 5]], np.uint16))
    assert stream == np.array([0x21A10000], "<u4").tobytes()
    np.testing.assert_array_equal(decode_rvl(stream, 3, 1), [[0, 0, 5]])


def test_decodes_from_any_bytes_like():
    depth = IMAGES["random_with_zeros"]
    stream = encode_rvl(depth)
    for payload in (memoryview(stream), np.frombuffer(stream, np.uint8)):
        np.testing.assert_array_equal(decode_rvl(payload, depth.shape[1], depth.shape[0]), depth)


STREAM = encode_rvl(IMAGES["random_with_zeros"])


@pytest.mark.parametrize(
    ("payload", "width", "height", "problem"),
    [
        (STREAM[: len(STREAM) // 2], 64, 48, "RVL stream ends before the image is complete"),
        (STREAM[:4], 64, 48, "RVL stream ends before the image is complete"),
        (b"", 64, 48, "RVL stream ends before the image is complete"),
        (STREAM, 64, 47, "RVL stream codes more pixels than the image has"),
        (encode_rvl(np.zeros((4, 4), np.uint16)), 3, 3, "RVL stream codes more pixels than the image has"),
        (bytes(4), 2, 2, "RVL stream has an empty run"),
        (np.array([0xFFFFFFFF] * 3 + [0x70000000], "<u4").tobytes(), 2, 2, "wider than 32 bits"),
        (np.array([0x01300000], "<u4").tobytes(), 1, 1, "outside 16 bits"),  # a single delta of -2
    ],
    ids=["half", "one_word", "empty", "too_many_pixels", "too_many_zeros", "empty_run", "huge_integer", "negative"],
)
def test_corrupt_stream_is_a_conversion_error(payload, width, height, problem):
    with pytest.raises(ConversionError, match=problem):
        decode_rvl(payload, width, height)


def test_zero_run_is_what_the_encoder_writes():
    assert zero_run(12) == encode_rvl(np.zeros((3, 4), np.uint16))


def test_declared_size_is_checked_before_decoding():
    """28 bytes that decode to 16384x16384 zeros: 512 MB of uint16, were they decoded."""
    with pytest.raises(ConversionError, match=rf"RVL image of 16384x16384 exceeds the limit of {DEFAULT_MAX_PIXELS} "):
        decode_rvl(zero_run(16384 * 16384), 16384, 16384)


def test_pixel_limit_is_inclusive():
    np.testing.assert_array_equal(decode_rvl(zero_run(64 * 48), 64, 48, max_pixels=64 * 48), np.zeros((48, 64)))
    with pytest.raises(ConversionError, match="RVL image of 64x48 exceeds the limit of 3071 pixels"):
        decode_rvl(zero_run(64 * 48), 64, 48, max_pixels=64 * 48 - 1)


@pytest.mark.parametrize(("width", "height"), [(0, 48), (64, 0), (0, 0)])
def test_empty_size_is_a_conversion_error(width, height):
    with pytest.raises(ConversionError, match=rf"empty RVL image \({width}x{height}\)"):
        decode_rvl(STREAM, width, height)


def test_stream_that_cannot_fill_the_declared_size_is_rejected():
    """Zeros for a third of the image, then nothing: the decoder stops at the end of the data, never past it.

    300000 zeros take 7 nibbles, the empty non-zero run 1: one whole word, without padding to read on into.
    """
    with pytest.raises(ConversionError, match="RVL stream ends before the image is complete"):
        decode_rvl(zero_run(300_000), 1000, 900)
