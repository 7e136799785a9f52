"""RVL, the lossless depth codec of `compressed_depth_image_transport`: decoder, encoder and ROS payload.

RVL (Wilson, "Fast Lossless Depth Image Compression", 2017) codes runs of zeros
and of non-zeros, each non-zero as the zig-zag delta from the previous one, all
as variable-length integers of 3-bit nibbles (high bit: more follow), packed 8
nibbles to a little-endian uint32, most significant nibble first.

The nibble stream is split into integers with NumPy; only the walk over runs is
a Python loop, so a frame costs one step per run, not per pixel.

compressedDepth puts a 12-byte `ConfigHeader {int32 format; float depthParam[2]}`
and the image's `uint32 cols, rows` before the stream; Rerun's viewer decodes that
whole payload as an `EncodedDepthImage` of media type `application/rvl`.
"""

from __future__ import annotations

import struct

import numpy as np

from .errors import ConversionError
from .options import DEFAULT_MAX_PIXELS, check_size

CONFIG_HEADER = struct.Struct("<iff")  # format (0: INV_DEPTH), depthParam A and B
RVL_SIZE = struct.Struct("<II")  # cols, rows
MEDIA_TYPE = "application/rvl"


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
    """Encode a uint16 image as an RVL stream, byte for byte as rvl_codec.cpp does (the inverse of `decode_rvl`).

    Vectorised like `decode_rvl`, so that live depth can be compressed at frame rate: the runs come
    from where zero and non-zero pixels alternate, and each integer's nibbles are written by length.
    """
    flat = depth.astype(np.int32).ravel()
    if flat.size == 0:
        return b""
    nonzero = flat != 0
    changes = np.flatnonzero(nonzero[1:] != nonzero[:-1]) + 1
    runs = np.diff(np.concatenate(([0], changes, [flat.size])))
    if nonzero[0]:
        runs = np.concatenate(([0], runs))  # every step codes zeros first, none here
    if runs.size % 2:
        runs = np.append(runs, 0)  # trailing zeros: a last step with no non-zeros
    zeros, nonzeros = runs[0::2], runs[1::2]

    values = flat[nonzero]
    deltas = np.diff(values, prepend=0)  # from the previous non-zero, across runs
    integers = np.empty(runs.size + values.size, np.uint32)
    counts_at = np.arange(zeros.size) * 2 + np.concatenate(([0], np.cumsum(nonzeros)[:-1]))
    is_count = np.zeros(integers.size, bool)
    is_count[counts_at] = is_count[counts_at + 1] = True
    integers[counts_at], integers[counts_at + 1] = zeros, nonzeros
    integers[~is_count] = (deltas << 1) ^ (deltas >> 63)  # zig-zag
    return _pack_varints(integers)


_VARINT_LIMITS = np.array([1 << (3 * k) for k in range(1, 11)], np.uint32)  # an integer >= the k-th: k + 1 nibbles


def _pack_varints(integers: np.ndarray) -> bytes:
    """uint32 integers as 3-bit nibbles, low first, the high bit set where more follow; 8 nibbles to a
    little-endian uint32, the first in its most significant nibble, the last word padded with zeros."""
    lengths = np.searchsorted(_VARINT_LIMITS, integers, side="right") + 1
    ends = np.cumsum(lengths)
    starts = ends - lengths
    nibbles = np.zeros(-(-int(ends[-1]) // 8) * 8, np.uint8)
    nibbles[starts] = integers & 0x7
    for k in range(1, int(lengths.max())):  # most integers are one or two nibbles long
        longer = np.flatnonzero(lengths > k)
        nibbles[starts[longer] + k] = (integers[longer] >> np.uint32(3 * k)) & 0x7
    nibbles[: ends[-1]] |= 0x8
    nibbles[ends - 1] &= 0x7  # each integer's last nibble
    octets = nibbles[0::2] << 4 | nibbles[1::2]  # each word's bytes, most significant first
    return octets.reshape(-1, 4)[:, ::-1].tobytes()


def ros_rvl_payload(depth: np.ndarray) -> bytes:
    """16-bit depth as compressed_depth_image_transport publishes it with RVL: header, size, stream.

    A and B are 0, as for 16UC1 (only 32FC1 is quantised): Rerun's viewer then reads the values as they are.
    """
    height, width = depth.shape
    return CONFIG_HEADER.pack(0, 0.0, 0.0) + RVL_SIZE.pack(width, height) + encode_rvl(depth)
