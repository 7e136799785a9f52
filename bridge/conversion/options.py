"""Per-topic options that change how a message converts (parsed from the YAML config), and the pixel limit."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from .errors import ConversionError

# The most pixels one frame may declare: more than 8K (7680x4320). Checked before anything is allocated,
# as compressed data can declare far more than it carries (an RVL stream of a few bytes, a PNG of zeros).
DEFAULT_MAX_PIXELS = 2**25


def check_size(width: int, height: int, max_pixels: int, what: str) -> None:
    """Reject a declared frame size that is empty or larger than `max_pixels`, before it is allocated."""
    if width <= 0 or height <= 0:
        raise ConversionError(f"empty {what} ({width}x{height})")
    if width * height > max_pixels:
        raise ConversionError(f"{what} of {width}x{height} exceeds the limit of {max_pixels} pixels")


class Intrinsics(str, Enum):
    """Which CameraInfo matrix gives the Pinhole's intrinsics (REP 104).

    K is for the raw (distorted) image; the left 3x3 of P is for the rectified
    image, as published on `image_rect*` topics.
    """

    K = "K"
    P = "P"


@dataclass(frozen=True)
class DepthOptions:
    """How a depth image is shown.

    `meter` is how many depth units make one metre (Rerun's convention): 1000
    for millimetres (16UC1), 1.0 for metres (32FC1). None picks that default
    from the pixel type. `depth_range` is in metres, whatever the pixel type;
    Rerun takes it in depth units, so it is scaled by `meter`.
    """

    meter: float | None = None
    colormap: str | None = None
    depth_range: tuple[float, float] | None = None
    point_fill_ratio: float | None = None

    def depth_image_args(self, float_pixels: bool) -> dict:
        """Keyword arguments for `rr.DepthImage`/`rr.EncodedDepthImage`, with the meter always explicit."""
        meter = self.meter if self.meter is not None else (1.0 if float_pixels else 1000.0)
        args: dict = {"meter": meter}
        if self.colormap is not None:
            args["colormap"] = self.colormap
        if self.depth_range is not None:
            args["depth_range"] = (self.depth_range[0] * meter, self.depth_range[1] * meter)
        if self.point_fill_ratio is not None:
            args["point_fill_ratio"] = self.point_fill_ratio
        return args


class DepthCompression(str, Enum):
    """Lossless compression of 16-bit depth, as an `EncodedDepthImage` the viewer decodes pixel-exact."""

    PNG = "png"  # smaller on smooth depth (simulation, filtered depth)
    RVL = "rvl"  # compressed_depth_image_transport's codec: smaller on depth with sensor noise
    AUTO = "auto"  # whichever of the two is smaller, per frame; what video implies
    NONE = "none"  # raw, where video would otherwise imply auto


@dataclass(frozen=True)
class VideoOptions:
    """How a colour topic is encoded as video (PyAV): never with B-frames, a keyframe every `gop` frames.

    `quality` is the encoder's constant-quality factor (CRF: lower is better and larger); None takes the
    codec's default (QUALITY_DEFAULTS). `preset` is the encoder's speed preset (libx264/libx265 names,
    a number for SVT-AV1); None takes PRESET_DEFAULTS. `encoder` names an FFmpeg encoder to use instead
    of the codec's software one (h264_nvenc, hevc_vaapi, ...). `low_latency` gives each frame's sample as
    it is encoded, for watching live: libx264 and libx265 otherwise look ahead 18-21 frames (0.6-0.7 s at
    30 Hz) for a smaller stream (the demo: 9% smaller); SVT-AV1 here is low-delay either way.
    """

    codec: str = "h264"  # one of VIDEO_CODECS
    gop: int = 30
    quality: int | None = None
    preset: str | None = None
    encoder: str | None = None
    low_latency: bool = False


VIDEO_CODECS = ("h264", "h265", "av1")


@dataclass(frozen=True)
class RectifyOptions:
    """An image topic rectified with its CameraInfo (`bridge.conversion.rectify`), logged at `entity_path`
    (None: `<the topic's entity>/rect`) beside the raw image, or instead of it when `keep_raw` is False
    (a frame that cannot be rectified is logged raw all the same)."""

    entity_path: str | None = None
    keep_raw: bool = True


@dataclass(frozen=True)
class RegisterOptions:
    """A depth topic reprojected into the colour camera of the Image topic `to` (`bridge.conversion.register`),
    logged at `entity_path` (None: `<the depth topic's entity>/registered`) beside the raw depth."""

    to: str
    entity_path: str | None = None


@dataclass(frozen=True)
class PointCloudOptions:
    """A depth topic's true-colour cloud, coloured from the Image topic `color_from` (`bridge.conversion.rgbd`).

    Depth and colour frames pair by stamp: the nearest colour frame within `stamp_tolerance` seconds. At most
    `max_points` points (evenly subsampled) and `max_rate` clouds a second (by stamp; None: every pair),
    logged at `entity_path` (None: `<the depth topic's entity>/points`).
    """

    color_from: str
    max_points: int = 100_000
    max_rate: float | None = 5.0
    stamp_tolerance: float = 0.02
    entity_path: str | None = None
