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


def decode_png(payload: np.ndarray) -> np.ndarray | None:
    """The PNG's pixels at their own bit depth; None when it cannot be decoded."""
    return cv2.imdecode(payload, cv2.IMREAD_UNCHANGED)


def encode_png(pixels: np.ndarray) -> np.ndarray:
    """A lossless PNG of 8- or 16-bit pixels, at zlib level 1: the fastest, and within 1% of level 3 on depth."""
    ok, png = cv2.imencode(".png", np.ascontiguousarray(pixels), [cv2.IMWRITE_PNG_COMPRESSION, 1])
    if not ok:
        raise ValueError("OpenCV could not encode a PNG")  # only for arrays no Image can give
    return png.reshape(-1)


def decode_color(data: np.ndarray) -> np.ndarray | None:
    """A JPEG's or PNG's pixels as 8-bit BGR; None when it cannot be decoded."""
    return cv2.imdecode(data, cv2.IMREAD_COLOR)
