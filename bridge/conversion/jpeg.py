"""A JPEG's structure checked without decoding it, so that a damaged frame is rejected rather than logged.

From the start-of-image marker to the first start-of-scan, a JPEG is a chain of
marker segments, each `FF xx` and a big-endian length that counts itself: they
are walked (a few per frame), the frame header (SOF) gives the size, and the
end-of-image marker must close the data, which is what a truncated frame lacks.
The entropy-coded data in between is the decoder's business.
"""

from __future__ import annotations

import struct

import numpy as np

from .errors import ConversionError
from .options import check_size

SOI = b"\xff\xd8"
EOI = b"\xff\xd9"
SOS = 0xDA
# Start-of-frame markers (baseline, extended, progressive, lossless...); C4, C8 and CC are not frames.
SOF = frozenset({0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF})
# Markers without a length: TEM and RST0..7 (which libjpeg skips wherever they stand).
PARAMETERLESS = frozenset({0x01, *range(0xD0, 0xD8)})
SEGMENT = struct.Struct(">BBH")  # 0xFF, marker, length (including its own two bytes)
FRAME_SIZE = struct.Struct(">xHH")  # after the length: precision, height, width


def check_jpeg(data: np.ndarray, max_pixels: int) -> None:
    """Raise ConversionError unless `data` (uint8) is a whole JPEG of at most `max_pixels`."""
    view = memoryview(data)
    if view[:2] != SOI:
        raise ConversionError("not a JPEG (no start-of-image marker)")
    if not _ends_with_eoi(data):
        raise ConversionError("truncated JPEG: no end-of-image marker")
    size = None
    pos = len(SOI)
    while True:
        if pos + SEGMENT.size > len(view):
            raise ConversionError("truncated JPEG: it ends before its scan")
        fill, marker, length = SEGMENT.unpack_from(view, pos)
        if fill != 0xFF:
            raise ConversionError(f"corrupt JPEG: no marker at byte {pos}")
        if marker == 0xFF:  # a fill byte before the marker
            pos += 1
            continue
        if marker in PARAMETERLESS:
            pos += 2
            continue
        if marker in (SOI[1], EOI[1]) or length < 2:
            raise ConversionError(f"corrupt JPEG: marker FF{marker:02X} at byte {pos} before the scan")
        end = pos + 2 + length
        if end > len(view) - len(EOI):
            raise ConversionError(f"truncated JPEG: segment FF{marker:02X} runs past the end of the data")
        if marker in SOF:
            if length < 2 + FRAME_SIZE.size:
                raise ConversionError(f"corrupt JPEG: frame header FF{marker:02X} of {length} bytes")
            height, width = FRAME_SIZE.unpack_from(view, pos + SEGMENT.size)
            size = width, height
        if marker == SOS:
            break
        pos = end
    if size is None:
        raise ConversionError("corrupt JPEG: no frame header before its scan")
    check_size(*size, max_pixels, "JPEG image")


def _ends_with_eoi(data: np.ndarray) -> bool:
    """Whether the end-of-image marker closes the data, ignoring the zeros some cameras pad their frames with."""
    if data[-1] == 0:  # rare: stripping copies the frame
        return data.tobytes().rstrip(b"\0").endswith(EOI)
    return data[-2:].tobytes() == EOI
