"""Decoder for RVL, the lossless depth codec of `compressed_depth_image_transport`.

RVL (Wilson, "Fast Lossless Depth Image Compression", 2017) codes runs of zeros
and of non-zeros, each non-zero as the zig-zag delta from the previous one, all
as variable-length integers of 3-bit nibbles (high bit: more follow), packed 8
nibbles to a little-endian uint32, most significant nibble first.

The nibble stream is split into integers with NumPy; only the walk over runs is
a Python loop, so a frame costs one step per run, not per pixel.
"""

from __future__ import annotations

import numpy as np

from .errors import ConversionError
from .options import DEFAULT_MAX_PIXELS, check_size


def decode_rvl(
    payload: bytes | memoryview | np.ndarray, width: int, height: int, max_pixels: int = DEFAULT_MAX_PIXELS
) -> np.ndarray:
    """Decode an RVL stream into a (height, width) uint16 image.

    A few bytes can code any number of zeros, so the declared size is checked
    against `max_pixels` first; a stream that ends before the image is full
    is rejected, never read past.
    """
    check_size(width, height, max_pixels, "RVL image")
    values = _varints(payload)
    num_pixels = width * height
    run_lengths: list[int] = []  # zeros, non-zeros, zeros, ...
    run_starts: list[int] = []  # where each run's pair of counts stands in `values`
    count, value = values.size, values.item  # plain ints: NumPy scalars would double the loop's cost
    pixel = i = 0
    while pixel < num_pixels:
        if i + 2 > count:
            raise ConversionError("RVL stream ends before the image is complete")
        zeros, nonzeros = value(i), value(i + 1)
        if zeros == 0 and nonzeros == 0:
            raise ConversionError("RVL stream has an empty run")
        pixel += zeros + nonzeros
        if pixel > num_pixels:
            raise ConversionError("RVL stream codes more pixels than the image has")
        if i + 2 + nonzeros > count:
            raise ConversionError("RVL stream ends before the image is complete")
        run_starts.append(i)
        run_lengths += (zeros, nonzeros)
        i += 2 + nonzeros

    is_delta = np.ones(i, bool)
    starts = np.array(run_starts)
    is_delta[starts] = is_delta[starts + 1] = False
    coded = values[:i][is_delta]
    depth = np.cumsum((coded >> 1) ^ -(coded & 1))  # zig-zag deltas from the previous non-zero
    if depth.size and (depth.min() < 0 or depth.max() > 0xFFFF):
        raise ConversionError("RVL stream decodes to values outside 16 bits")
    out = np.zeros(num_pixels, np.uint16)
    out[np.repeat(np.resize([False, True], len(run_lengths)), run_lengths)] = depth
    return out.reshape(height, width)


def _varints(payload: bytes | memoryview | np.ndarray) -> np.ndarray:
    """All variable-length integers of the stream, in order, as int64."""
    words = np.frombuffer(payload, dtype="<u4", count=len(payload) // 4)
    octets = words.astype(">u4").view(np.uint8)  # each word's most significant nibble first
    nibbles = np.empty(octets.size * 2, np.uint8)
    nibbles[0::2] = octets >> 4
    nibbles[1::2] = octets & 0xF
    ends = np.flatnonzero(nibbles < 0x8)  # the last nibble of each integer
    if ends.size == 0:
        return np.zeros(0, np.int64)
    starts = np.empty_like(ends)
    starts[0], starts[1:] = 0, ends[:-1] + 1
    lengths = ends - starts + 1
    if lengths.max() > 11:  # the codec's counts and deltas are 32-bit
        raise ConversionError("RVL stream holds an integer wider than 32 bits")
    values = (nibbles[starts] & 0x7).astype(np.int64)
    for k in range(1, int(lengths.max())):  # most integers are one or two nibbles long
        longer = np.flatnonzero(lengths > k)
        values[longer] |= (nibbles[starts[longer] + k] & 0x7).astype(np.int64) << (3 * k)
    return values


def encode_rvl(depth: np.ndarray) -> bytes:
    """Encode a uint16 image as an RVL stream (the inverse of `decode_rvl`).

    Used to synthesise compressedDepth test data and demo bags; written for
    clarity, not speed.
    """
    nibbles: list[int] = []

    def put(value: int) -> None:
        while True:
            nibble = value & 0x7
            value >>= 3
            nibbles.append(nibble | (0x8 if value else 0))
            if not value:
                return

    flat = depth.astype(np.int64).ravel()
    previous = 0
    i = 0
    while i < flat.size:
        start = i
        while i < flat.size and flat[i] == 0:
            i += 1
        put(i - start)
        start = i
        while i < flat.size and flat[i] != 0:
            i += 1
        put(i - start)
        for value in flat[start:i]:
            delta = int(value) - previous
            put((delta << 1) ^ (delta >> 63))
            previous = int(value)
    nibbles += [0] * (-len(nibbles) % 8)
    packed = np.array(nibbles, np.uint32).reshape(-1, 8) << np.arange(28, -1, -4, dtype=np.uint32)
    return np.bitwise_or.reduce(packed, axis=1).astype("<u4").tobytes()
