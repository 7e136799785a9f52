"""Rectification of raw camera images as `image_proc`/`image_geometry` do it: pure functions, no state.

`Calibration` is what a `sensor_msgs/CameraInfo` says about the lens (hashable: it keys the maps);
`rectify_maps` turns it into OpenCV remap tables for the image as published, and `remap` applies them.

Semantics (image_geometry's `PinholeCameraModel::initRectificationMaps`, REP 104):
- `plumb_bob` and `rational_polynomial` go through `cv2.initUndistortRectifyMap`, `equidistant`
  (fisheye) through `cv2.fisheye.initUndistortRectifyMap`, each with K, D, R and the left 3x3 of P.
- Binning and ROI: image_geometry builds the full-sensor maps at the binned resolution and crops them
  at the ROI, shifting the source coordinates by its offset. The same maps come straight from K and P
  shifted by the ROI offset and scaled by 1/binning (`published_intrinsics`), at the published size,
  which is what is done here. The rectified image's intrinsics are P's, shifted and scaled alike.
- An all-zero R (left unset by many monocular drivers) is the identity; an empty D is no distortion
  (plumb_bob and rational_polynomial), as OpenCV takes it.

Colour is interpolated bilinearly (with whichever of OpenCV's float or fixed-point tables is faster for the
pixel type); depth is sampled with the nearest neighbour only, so no depth value is made up across an edge
and invalid pixels (0, NaN) stay invalid. Pixels that see nothing of the raw image are 0 (NaN for float depth).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import numpy as np
import rerun as rr

from . import archetypes
from .camera_info import CameraInfoMsg, published_intrinsics
from .compressed import decoded_depth, decoded_frame, decoded_image, is_compressed_depth
from .errors import ConversionError
from .image import DEFAULT_DEPTH_ENCODINGS, RawFrame, depth_archetype, interleaved_frame, interleaved_pixels
from .options import DEFAULT_MAX_PIXELS, DepthCompression, DepthOptions, Intrinsics

MODELS = ("plumb_bob", "rational_polynomial", "equidistant")
D_LENGTHS = {"plumb_bob": (0, 4, 5), "rational_polynomial": (0, 8), "equidistant": (4,)}


class CalibrationError(ConversionError):
    """A calibration that cannot rectify (unknown model, NaN or a wrong number of coefficients, no focal length)."""


@dataclass(frozen=True)
class Calibration:
    """The fields of a CameraInfo that rectification reads, as plain tuples (equal calibrations are equal)."""

    distortion_model: str
    d: tuple[float, ...]
    k: tuple[float, ...]
    r: tuple[float, ...]
    p: tuple[float, ...]
    width: int
    height: int
    binning: tuple[int, int]
    roi: tuple[int, int, int, int]  # x_offset, y_offset, width, height

    @classmethod
    def from_camera_info(cls, msg: Any) -> Calibration:
        def values(field: Any) -> tuple[float, ...]:
            return tuple(float(v) for v in np.asarray(field, dtype=np.float64).ravel())

        roi = msg.roi
        return cls(str(msg.distortion_model), values(msg.d), values(msg.k), values(msg.r), values(msg.p),
                   int(msg.width), int(msg.height), (int(msg.binning_x), int(msg.binning_y)),
                   (int(roi.x_offset), int(roi.y_offset), int(roi.width), int(roi.height)))  # fmt: skip

    def as_message(self) -> CameraInfoMsg:
        """A CameraInfo-like object, for `published_intrinsics`."""
        from types import SimpleNamespace

        x, y, w, h = self.roi
        return SimpleNamespace(  # type: ignore[return-value]
            width=self.width, height=self.height, k=self.k, p=self.p, d=self.d, r=self.r,
            distortion_model=self.distortion_model, binning_x=self.binning[0], binning_y=self.binning[1],
            roi=SimpleNamespace(x_offset=x, y_offset=y, width=w, height=h),
        )  # fmt: skip


@dataclass(frozen=True)
class RectifyMaps:
    """Remap tables for one calibration and published image size (width, height)."""

    size: tuple[int, int]
    rectified_matrix: np.ndarray  # 3x3 intrinsics of the rectified image (P's, shifted and binned)
    map_x: np.ndarray  # float32: where in the raw image each rectified pixel comes from; -1 outside
    map_y: np.ndarray
    _cache: dict

    def bilinear(self, pixels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The tables OpenCV interpolates `pixels` fastest with (see `_float_maps_faster`).

        Fixed-point tables (CV_16SC2 and an interpolation table, 1/32 px) are made on first use; float
        tables are `map_x` and `map_y` themselves.
        """
        if not (_float_maps_faster() and (pixels.dtype != np.uint8 or pixels.ndim == 2 or pixels.shape[2] != 3)):
            return self.fixed_point()
        return self.map_x, self.map_y

    def fixed_point(self) -> tuple[np.ndarray, np.ndarray]:
        """OpenCV's fixed-point maps (CV_16SC2 and its interpolation table), made on first use."""
        if "fixed_point" not in self._cache:
            import cv2

            self._cache["fixed_point"] = cv2.convertMaps(self.map_x, self.map_y, cv2.CV_16SC2)
        return self._cache["fixed_point"]

    def nearest(self) -> np.ndarray:
        """Integer (x, y) of the nearest raw pixel (CV_16SC2), made on first use."""
        if "nearest" not in self._cache:
            self._cache["nearest"] = np.stack([np.rint(self.map_x), np.rint(self.map_y)], axis=-1).astype(np.int16)
        return self._cache["nearest"]


def check_calibration(calibration: Calibration) -> None:
    """Raise CalibrationError unless OpenCV can rectify with this calibration."""
    model = calibration.distortion_model
    if model not in MODELS:
        raise CalibrationError(f"distortion model {model!r} cannot be rectified (known: {', '.join(MODELS)})")
    d = calibration.d
    if len(d) not in D_LENGTHS[model]:
        lengths = " or ".join(str(n) for n in D_LENGTHS[model])
        raise CalibrationError(f"{model} takes {lengths} distortion coefficients, D has {len(d)}")
    if not all(np.isfinite(d)):
        raise CalibrationError(f"D is not finite: {list(d)}")
    r = calibration.r
    if len(r) != 9 or not all(np.isfinite(r)):
        raise CalibrationError(f"R is not a finite 3x3 matrix: {len(r)} values")
    if any(r):
        rotation = np.array(r).reshape(3, 3)
        if not np.allclose(rotation @ rotation.T, np.eye(3), atol=1e-3) or np.linalg.det(rotation) < 0:
            raise CalibrationError("R is not a rotation")


def rectify_maps(calibration: Calibration) -> RectifyMaps:
    """The remap tables of the published image; CalibrationError for a calibration that cannot rectify."""
    import cv2

    check_calibration(calibration)
    msg = calibration.as_message()
    try:
        k, size = published_intrinsics(msg, Intrinsics.K)
        p, _ = published_intrinsics(msg, Intrinsics.P)
    except ConversionError as err:
        raise CalibrationError(str(err)) from None
    r = np.array(calibration.r, dtype=np.float64).reshape(3, 3) if any(calibration.r) else np.eye(3)
    d = np.array(calibration.d, dtype=np.float64)
    if calibration.distortion_model == "equidistant":
        map_x, map_y = cv2.fisheye.initUndistortRectifyMap(k, d, r, p, size, cv2.CV_32FC1)
    else:
        map_x, map_y = cv2.initUndistortRectifyMap(k, d if d.size else None, r, p, size, cv2.CV_32FC1)
    width, height = size
    for table, limit in ((map_x, width), (map_y, height)):  # NaN, and far outside: outside (int16 in the tables)
        table[~(np.abs(table) < 4 * limit + 4)] = -1
    return RectifyMaps(size, p, map_x, map_y, {})


def remap(pixels: np.ndarray, maps: RectifyMaps, depth: bool) -> np.ndarray:
    """The rectified image: bilinear for colour, nearest neighbour for depth (0 or NaN where nothing is seen)."""
    import cv2

    height, width = pixels.shape[:2]
    if (width, height) != maps.size:
        raise ConversionError(f"image is {width}x{height}, its calibration is for {maps.size[0]}x{maps.size[1]}")
    if pixels.dtype not in _REMAPPABLE:
        raise ConversionError(f"{pixels.dtype} pixels cannot be rectified (OpenCV remaps {', '.join(map(str, _REMAPPABLE))})")
    # Rows padded by `step` stay a view: OpenCV reads strided rows as they are (copying them cost 2 ms at 1080p rgb8).
    if depth:
        outside = np.nan if pixels.dtype.kind == "f" else 0
        return cv2.remap(pixels, maps.nearest(), None, cv2.INTER_NEAREST, borderMode=cv2.BORDER_CONSTANT,
                         borderValue=outside)  # fmt: skip
    map1, map2 = maps.bilinear(pixels)
    return cv2.remap(pixels, map1, map2, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)


@functools.cache
def _float_maps_faster() -> bool:
    """Whether OpenCV has its vectorised float-map remap kernels (4.11 on, 8U/16U/32F, 1, 3 and 4 channels).

    With them, float tables interpolate faster than fixed-point ones for every pixel type here but 8-bit
    three-channel (bench/rectify_bench.py: 1080p mono8, mono16 and rgba8); before, fixed-point is faster.
    """
    import cv2

    major, minor = (int(part) for part in cv2.__version__.split(".")[:2])
    return (major, minor) >= (4, 11)


_REMAPPABLE = tuple(np.dtype(t) for t in ("u1", "u2", "i2", "f4", "f8"))


def rectify_image(msg: Any, maps: RectifyMaps, as_depth: bool | None, depth: DepthOptions = DepthOptions(), *,
                  max_pixels: int = DEFAULT_MAX_PIXELS, depth_compression: DepthCompression | None = None) -> Any:
    """An Image message rectified, as the archetype `convert_image` makes of the raw one (same options).

    Bayer and YUV images are demosaiced or converted to RGB first (interpolating their raw samples would blend
    colours). `as_depth` as for `convert_image`: depth is sampled with the nearest neighbour.
    """
    if as_depth is None:
        as_depth = msg.encoding.upper() in DEFAULT_DEPTH_ENCODINGS
    pixels, color_model = interleaved_pixels(msg, max_pixels=max_pixels)
    if as_depth and pixels.ndim != 2:
        raise ConversionError(f"encoding {msg.encoding!r} cannot be shown as depth (needs one channel)")
    rectified = remap(pixels, maps, depth=as_depth)
    if as_depth:
        return depth_archetype(rectified, depth, depth_compression)
    if color_model is None:  # two channels: no colour model in Rerun, as the raw image
        return rr.Tensor(rectified, dim_names=["height", "width", "channel"])
    return archetypes.image(rectified, color_model)


def rectify_compressed(msg: Any, maps: RectifyMaps, as_depth: bool | None, depth: DepthOptions = DepthOptions(), *,
                       max_pixels: int = DEFAULT_MAX_PIXELS) -> Any:
    """A CompressedImage decoded, rectified and re-encoded in its own format, as `convert_compressed_image` logs it.

    JPEG comes back as JPEG at image_transport's default quality (`JPEG_QUALITY`), PNG as a lossless PNG of the
    same channels and bit depth. compressedDepth is sampled with the nearest neighbour and stays lossless: 16UC1
    as a PNG or RVL `EncodedDepthImage` (its own codec), 32FC1 as metres (as its raw frames are logged).
    """
    from .opencv import encode_jpeg, encode_png

    if as_depth is None:
        as_depth = is_compressed_depth(msg.format)
    if as_depth:
        fmt, pixels = decoded_depth(msg.format, np.frombuffer(msg.data, np.uint8), max_pixels=max_pixels)
        rectified = remap(pixels, maps, depth=True)
        return depth_archetype(rectified, depth, DepthCompression(fmt.codec) if fmt.encoding == "16UC1" else None)
    pixels, media_type = decoded_image(msg, max_pixels=max_pixels)
    rectified = remap(pixels, maps, depth=False)
    encoded = encode_jpeg(rectified) if media_type == "image/jpeg" else encode_png(rectified)
    return archetypes.encoded_image(encoded, media_type)


def rectify_video_frame(msg: Any, maps: RectifyMaps, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> RawFrame:
    """An Image's colour frame rectified, for a video encoder (Bayer and YUV converted to RGB first)."""
    pixels, color_model = interleaved_pixels(msg, max_pixels=max_pixels)
    return interleaved_frame(remap(pixels, maps, depth=False), color_model, msg.encoding)


def rectify_decoded_frame(msg: Any, maps: RectifyMaps, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> RawFrame:
    """A JPEG or PNG CompressedImage decoded and rectified, for a video encoder."""
    frame = decoded_frame(msg, max_pixels=max_pixels)
    return RawFrame(remap(frame.pixels, maps, depth=False), frame.pixel_format)
