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


def decode_rvl(payload: bytes | memoryview | np.ndarray, width: int, height: int) -> np.ndarray:
    """Decode an RVL stream into a (height, width) uint16 image."""
    values = _varints(payload)
    num_pixels = width * height
    out = np.zeros(num_pixels, np.uint16)
    nonzero_index: list[np.ndarray] = []
    delta_slices: list[slice] = []
    pixel = 0
    i = 0
    while pixel < num_pixels:
        if i + 2 > values.size:
            raise ConversionError("RVL stream ends before the image is complete")
        zeros, nonzeros = int(values[i]), int(values[i + 1])
        i += 2
        if zeros == 0 and nonzeros == 0:
            raise ConversionError("RVL stream has an empty run")
        pixel += zeros
        if pixel + nonzeros > num_pixels:
            raise ConversionError("RVL stream codes more pixels than the image has")
        if i + nonzeros > values.size:
            raise ConversionError("RVL stream ends before the image is complete")
        if nonzeros:  # an all-zero image has a single run and no values
            nonzero_index.append(np.arange(pixel, pixel + nonzeros))
            delta_slices.append(slice(i, i + nonzeros))
        pixel += nonzeros
        i += nonzeros
    if nonzero_index:
        coded = np.concatenate([values[s] for s in delta_slices]).astype(np.int64)
        deltas = (coded >> 1) ^ -(coded & 1)  # zig-zag
        depth = np.cumsum(deltas)
        if depth.min() < 0 or depth.max() > 0xFFFF:
            raise ConversionError("RVL stream decodes to values outside 16 bits")
        out[np.concatenate(nonzero_index)] = depth
    return out.reshape(height, width)


def _varints(payload: bytes | memoryview | np.ndarray) -> np.ndarray:
    """All variable-length integers of the stream, in order."""
    words = np.frombuffer(payload, dtype="<u4", count=len(payload) // 4)
    shifts = np.arange(28, -1, -4, dtype=np.uint32)
    nibbles = ((words[:, None] >> shifts) & 0xF).astype(np.uint8).ravel()
    ends = np.flatnonzero((nibbles & 0x8) == 0)  # the last nibble of each integer
    if ends.size == 0:
        return np.zeros(0, np.uint64)
    nibbles = nibbles[: ends[-1] + 1]
    starts = np.concatenate(([0], ends[:-1] + 1))
    position = np.arange(nibbles.size) - np.repeat(starts, ends - starts + 1)
    if position.max() * 3 >= 64:
        raise ConversionError("RVL stream holds an integer wider than 64 bits")
    contributions = (nibbles & 0x7).astype(np.uint64) << (3 * position).astype(np.uint64)
    return np.add.reduceat(contributions, starts)


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
