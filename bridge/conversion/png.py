"""A PNG's structure checked without decoding it, so that a damaged frame is rejected rather than logged.

A PNG is its signature, then chunks of `length, type, data, CRC-32 of type and
data`: IHDR first, one or more IDAT holding the compressed pixels, IEND last.
Every chunk's length and CRC are checked (zlib's CRC-32 runs at memory speed),
which catches truncation and corrupt bytes anywhere, IDAT included; the header
gives the size, checked against the pixel limit before any decoder sees it.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

import numpy as np

from .errors import ConversionError
from .options import check_size

SIGNATURE = b"\x89PNG\r\n\x1a\n"
CHUNK = struct.Struct(">I4s")  # data length, type; then the data and a big-endian CRC-32
CRC = struct.Struct(">I")
IHDR = struct.Struct(">IIBBBBB")  # width, height, bit depth, colour type, compression, filter, interlace
BIT_DEPTHS = {0: (1, 2, 4, 8, 16), 2: (8, 16), 3: (1, 2, 4, 8), 4: (8, 16), 6: (8, 16)}  # by colour type


@dataclass(frozen=True)
class PngHeader:
    width: int
    height: int
    bit_depth: int
    colour_type: int  # 0 greyscale, 2 RGB, 3 palette, 4 greyscale and alpha, 6 RGBA


def check_png(data: np.ndarray, max_pixels: int) -> PngHeader:
    """The header of `data` (uint8), a whole PNG of at most `max_pixels`; ConversionError otherwise."""
    view = memoryview(data)
    if view[: len(SIGNATURE)] != SIGNATURE:
        raise ConversionError("not a PNG (no PNG signature)")
    header = None
    seen_idat = False
    pos = len(SIGNATURE)
    while pos < len(view):
        if pos + CHUNK.size + CRC.size > len(view):
            raise ConversionError(f"truncated PNG: a chunk header at byte {pos} is cut off")
        length, kind = CHUNK.unpack_from(view, pos)
        if not kind.isalpha():
            raise ConversionError(f"corrupt PNG: no chunk type at byte {pos}")
        name = kind.decode("ascii")
        end = pos + CHUNK.size + length + CRC.size
        if end > len(view):
            raise ConversionError(f"truncated PNG: chunk {name} runs past the end of the data")
        if zlib.crc32(view[pos + 4 : end - CRC.size]) != CRC.unpack_from(view, end - CRC.size)[0]:
            raise ConversionError(f"PNG chunk {name}: CRC mismatch")
        if header is None:
            if kind != b"IHDR":
                raise ConversionError(f"corrupt PNG: its first chunk is {name}, not IHDR")
            header = _header(view[pos + CHUNK.size : end - CRC.size], max_pixels)
        elif kind == b"IDAT":
            seen_idat = True
        elif kind == b"IEND":
            if not seen_idat:
                raise ConversionError("corrupt PNG: no IDAT chunk (no pixels)")
            if end != len(view):
                raise ConversionError(f"corrupt PNG: {len(view) - end} bytes after IEND")
            return header
        pos = end
    raise ConversionError("truncated PNG: no IEND chunk")


def _header(ihdr: memoryview, max_pixels: int) -> PngHeader:
    if len(ihdr) != IHDR.size:
        raise ConversionError(f"corrupt PNG: IHDR of {len(ihdr)} bytes (not {IHDR.size})")
    width, height, bit_depth, colour_type, compression, filtering, interlace = IHDR.unpack(ihdr)
    if bit_depth not in BIT_DEPTHS.get(colour_type, ()):
        raise ConversionError(f"corrupt PNG: IHDR bit depth {bit_depth} with colour type {colour_type}")
    if compression != 0 or filtering != 0 or interlace > 1:
        raise ConversionError(
            f"corrupt PNG: IHDR compression {compression}, filter {filtering}, interlace {interlace} methods"
        )
    check_size(width, height, max_pixels, "PNG image")
    return PngHeader(width, height, bit_depth, colour_type)
