"""`sensor_msgs/CompressedImage` to `rr.EncodedImage`, `rr.EncodedDepthImage` or `rr.DepthImage`.

JPEG and PNG go to Rerun as they are, with the media type their magic bytes
give: the viewer decodes them. So that a damaged frame is rejected here rather
than logged, their structure is checked without decoding (`jpeg`, `png`), and
the size they declare against the pixel limit. compressedDepth
(`compressed_depth_image_transport`) prefixes its payload with a 12-byte
`ConfigHeader {int32 format; float depthParam[2]}` that no image decoder
understands; it is stripped here. A 16UC1 PNG then goes through undecoded (and
checked likewise); 32FC1 (inverse-depth quantised) and RVL payloads are decoded
into metric depth, once their declared size is known to be within the limit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from . import archetypes
from .errors import ConversionError
from .image import RawFrame
from .jpeg import check_jpeg
from .options import DEFAULT_MAX_PIXELS, DepthOptions
from .png import SIGNATURE as PNG_SIGNATURE
from .png import check_png
from .rvl import CONFIG_HEADER, RVL_SIZE, decode_rvl

JPEG_SOI = b"\xff\xd8\xff"


class CompressedImageMsg(Protocol):
    format: str
    data: Any  # bytes-like


@dataclass(frozen=True)
class CompressedDepthFormat:
    """Parsed `"<encoding>; compressedDepth [png|rvl]"`."""

    encoding: str  # "16UC1" or "32FC1"
    codec: str  # "png" or "rvl"


def is_compressed_depth(format_string: str) -> bool:
    return "compresseddepth" in format_string.lower()


def convert_compressed_image(
    msg: CompressedImageMsg,
    as_depth: bool | None = None,
    depth: DepthOptions = DepthOptions(),
    *,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> Any:
    """Convert one CompressedImage; `as_depth` None decides from the format string.

    An image that declares more than `max_pixels` is rejected before it is decoded, here or in the viewer.
    """
    data = np.frombuffer(msg.data, dtype=np.uint8)
    if data.size == 0:
        raise ConversionError("empty compressed image")
    if as_depth is None:
        as_depth = is_compressed_depth(msg.format)
    if as_depth:
        return convert_compressed_depth(msg.format, data, depth, max_pixels=max_pixels)
    return archetypes.encoded_image(data, _checked_media_type(msg.format, data, max_pixels))


def _checked_media_type(format_string: str, data: np.ndarray, max_pixels: int) -> str:
    """From the magic bytes (a format string can be wrong or empty), once the structure is checked."""
    head = data[: len(PNG_SIGNATURE)].tobytes()
    if head.startswith(JPEG_SOI):
        check_jpeg(data, max_pixels)
        return "image/jpeg"
    if head.startswith(PNG_SIGNATURE):
        check_png(data, max_pixels)
        return "image/png"
    raise ConversionError(f"compressed image with format {format_string!r} is neither JPEG nor PNG")


def decoded_frame(msg: CompressedImageMsg, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> RawFrame:
    """A JPEG or PNG CompressedImage decoded to 8-bit BGR, for a video encoder; checked against `max_pixels` first."""
    return RawFrame(decoded_image(msg, max_pixels=max_pixels, as_stored=False)[0], "bgr24")


def decoded_image(msg: CompressedImageMsg, *, max_pixels: int = DEFAULT_MAX_PIXELS,
                  as_stored: bool = True) -> tuple[np.ndarray, str]:  # fmt: skip
    """A JPEG or PNG CompressedImage's pixels and media type, checked against `max_pixels` before decoding.

    `as_stored`: grey, BGR or BGRA at the file's bit depth (what re-encoding in the same format keeps);
    otherwise 8-bit BGR.
    """
    data = np.frombuffer(msg.data, dtype=np.uint8)
    if data.size == 0:
        raise ConversionError("empty compressed image")
    media_type = _checked_media_type(msg.format, data, max_pixels)
    from .opencv import decode_as_stored, decode_color  # cv2 is imported on first use

    pixels = (decode_as_stored if as_stored else decode_color)(data)
    if pixels is None:
        raise ConversionError(f"compressed image with format {msg.format!r} cannot be decoded")
    return pixels, media_type


def parse_compressed_depth_format(format_string: str) -> CompressedDepthFormat:
    """Decide 16- vs 32-bit from the encoding prefix, never from the header (some encoders leave it unset)."""
    encoding, _, transport = format_string.partition(";")
    encoding = encoding.strip().upper()
    words = transport.lower().split()
    codec = words[1] if len(words) > 1 else "png"  # strings without a codec name predate RVL
    if encoding not in ("16UC1", "32FC1"):
        raise ConversionError(f"compressedDepth of {encoding or 'no encoding'!r} (16UC1 and 32FC1 are supported)")
    if codec not in ("png", "rvl"):
        raise ConversionError(f"unknown compressedDepth codec {codec!r} (png and rvl are supported)")
    return CompressedDepthFormat(encoding, codec)


def convert_compressed_depth(
    format_string: str,
    data: np.ndarray,
    depth: DepthOptions = DepthOptions(),
    *,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> Any:
    fmt = parse_compressed_depth_format(format_string)
    if fmt.codec == "png" and fmt.encoding == "16UC1":  # millimetres as they are: the viewer decodes the PNG
        payload = _depth_payload(data)
        _require_png16(payload, max_pixels)
        return archetypes.encoded_depth_image(payload, "image/png", **depth.depth_image_args(float_pixels=False))
    pixels = _decoded_depth(fmt, data, max_pixels)
    return archetypes.depth_image(pixels, **depth.depth_image_args(float_pixels=pixels.dtype.kind == "f"))


def decoded_depth(format_string: str, data: np.ndarray, *,
                  max_pixels: int = DEFAULT_MAX_PIXELS) -> tuple[CompressedDepthFormat, np.ndarray]:  # fmt: skip
    """A compressedDepth payload's format and depth: uint16 millimetres (16UC1) or float32 metres (32FC1, NaN: none)."""
    fmt = parse_compressed_depth_format(format_string)
    return fmt, _decoded_depth(fmt, data, max_pixels)


def _decoded_depth(fmt: CompressedDepthFormat, data: np.ndarray, max_pixels: int) -> np.ndarray:
    payload = _depth_payload(data)
    if fmt.codec == "png":
        _require_png16(payload, max_pixels)
        quantised = _decode_png16(payload)
    else:
        quantised = _decode_rvl_payload(payload, max_pixels)
    if fmt.encoding == "16UC1":
        return quantised
    _, quant_a, quant_b = CONFIG_HEADER.unpack_from(data)
    return dequantise_inverse_depth(quantised, quant_a, quant_b)


def _depth_payload(data: np.ndarray) -> np.ndarray:
    """The payload after compressed_depth_image_transport's 12-byte ConfigHeader."""
    if data.size <= CONFIG_HEADER.size:
        raise ConversionError(f"compressedDepth payload of {data.size} bytes has no room for its header")
    return data[CONFIG_HEADER.size :]


def dequantise_inverse_depth(quantised: np.ndarray, quant_a: float, quant_b: float) -> np.ndarray:
    """Undo `q = uint16(A / d + B)`: metres, NaN where q == 0 (no depth).

    Computed in place: a frame takes one float32 image (and a mask), not three.
    """
    if not (np.isfinite(quant_a) and np.isfinite(quant_b)) or quant_a == 0:
        raise ConversionError(f"32FC1 compressedDepth header has unusable depth parameters A={quant_a}, B={quant_b}")
    metres = quantised.astype(np.float32)
    with np.errstate(divide="ignore", over="ignore"):  # inf for q == B: beyond any range, as the encoder meant
        metres -= np.float32(quant_b)
        np.divide(np.float32(quant_a), metres, out=metres)
    metres[quantised == 0] = np.nan
    return metres


def _require_png16(payload: np.ndarray, max_pixels: int) -> None:
    """Check, without decoding, that the viewer (or OpenCV) gets a whole 16-bit greyscale PNG."""
    header = check_png(payload, max_pixels)
    if header.bit_depth != 16 or header.colour_type != 0:
        raise ConversionError("compressedDepth png payload is not a 16-bit greyscale PNG")


def _decode_png16(payload: np.ndarray) -> np.ndarray:
    from .opencv import decode_as_stored  # cv2 is imported on first use

    image = decode_as_stored(payload)
    if image is None:
        raise ConversionError("compressedDepth png payload cannot be decoded (corrupt PNG)")
    return image


def _decode_rvl_payload(payload: np.ndarray, max_pixels: int) -> np.ndarray:
    if payload.size < RVL_SIZE.size:
        raise ConversionError("compressedDepth rvl payload has no room for its size")
    width, height = RVL_SIZE.unpack_from(payload)
    return decode_rvl(payload[RVL_SIZE.size :], width, height, max_pixels)
