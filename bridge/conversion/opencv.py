"""The conversions that need OpenCV, kept apart so that cv2 is imported only when one runs.

Importing cv2 adds about 0.15 s to every start, and most streams never need
it: only 16-bit Bayer images, compressedDepth and depth PNGs, and frames decoded for video do.
"""

from __future__ import annotations

import cv2
import numpy as np

# OpenCV names a Bayer pattern by the second row's first two pixels, hence the shift.
_BAYER_TO_RGB = {
    "RGGB": cv2.COLOR_BayerBG2RGB,
    "BGGR": cv2.COLOR_BayerRG2RGB,
    "GBRG": cv2.COLOR_BayerGR2RGB,
    "GRBG": cv2.COLOR_BayerGB2RGB,
}


def demosaic_to_rgb(mosaic: np.ndarray, pattern: str) -> np.ndarray:
    """An RGB image of the mosaic's bit depth; `pattern` is the ROS name ("RGGB", ...)."""
    return cv2.cvtColor(np.ascontiguousarray(mosaic), _BAYER_TO_RGB[pattern])


def decode_as_stored(data: np.ndarray) -> np.ndarray | None:
    """A PNG's or JPEG's pixels as stored: grey, BGR or BGRA, 8 or 16 bits; None when it cannot be decoded."""
    return cv2.imdecode(data, cv2.IMREAD_UNCHANGED)


def encode_png(pixels: np.ndarray) -> np.ndarray:
    """A lossless PNG of 8- or 16-bit pixels, at zlib level 1: the fastest, and within 1% of level 3 on depth."""
    return _encoded(".png", pixels, [cv2.IMWRITE_PNG_COMPRESSION, 1])


def decode_color(data: np.ndarray) -> np.ndarray | None:
    """A JPEG's or PNG's pixels as 8-bit BGR; None when it cannot be decoded."""
    return cv2.imdecode(data, cv2.IMREAD_COLOR)


# image_transport's `compressed` publishes JPEG at quality 95 by default (its `jpeg_quality` parameter):
# a rectified JPEG is re-encoded at that quality, the source's own being unknowable from the file.
JPEG_QUALITY = 95


def encode_jpeg(pixels: np.ndarray, quality: int = JPEG_QUALITY) -> np.ndarray:
    """A JPEG of 8-bit grey or BGR pixels."""
    return _encoded(".jpg", pixels, [cv2.IMWRITE_JPEG_QUALITY, quality])


def _encoded(suffix: str, pixels: np.ndarray, parameters: list[int]) -> np.ndarray:
    """The file's bytes, flat; ValueError only for arrays that no Image or decoded file gives."""
    ok, encoded = cv2.imencode(suffix, np.ascontiguousarray(pixels), parameters)
    if not ok:
        raise ValueError(f"OpenCV could not encode a {suffix[1:].upper()}")
    return encoded.reshape(-1)


_YUV_TO_RGB = {
    "YUYV": cv2.COLOR_YUV2RGB_YUY2,
    "UYVY": cv2.COLOR_YUV2RGB_UYVY,
    "NV12": cv2.COLOR_YUV2RGB_NV12,
    "NV21": cv2.COLOR_YUV2RGB_NV21,
}


def yuv_to_rgb(packed: np.ndarray, layout: str) -> np.ndarray:
    """8-bit RGB of YUV 4:2:2 packed (height, width, 2) or 4:2:0 semi-planar (height * 3 / 2, width) pixels
    (BT.601, limited range, as Rerun shows them); `layout` is "YUYV", "UYVY", "NV12" or "NV21"."""
    return cv2.cvtColor(np.ascontiguousarray(packed), _YUV_TO_RGB[layout])
