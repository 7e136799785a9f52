"""`Rectifier`: one image topic's rectification, with the remap tables of its current calibration.

Which calibration belongs to an image topic is decided by the `Bridge` (`Bridge._calibration_for`): the
sibling `camera_info` topic of the same namespace (image_transport's convention, `/ns/image_raw` with
`/ns/camera_info`) when one has been seen, otherwise the first CameraInfo topic whose frame is the image's
`frame_id` (the one that gives that frame's Pinhole). The tables are computed once per calibration
(K, D, R, P, model, binning, ROI and size are all in `Calibration`, so any change recomputes them) and
kept here; a calibration that cannot rectify is warned about once and the image stays raw.
"""

from __future__ import annotations

import threading
from typing import Any, Callable

import rerun as rr

from ..conversion.camera_info import IMAGE_PLANE_SUFFIX
from ..conversion.errors import ConversionError
from ..conversion.rectify import Calibration, CalibrationError, RectifyMaps, rectify_maps

RECT_IMAGE_PLANE_SUFFIX = "_rect" + IMAGE_PLANE_SUFFIX


def rect_image_plane_frame(frame_id: str) -> str:
    """The frame the rectified images of camera `frame_id` live in, projected through P."""
    return frame_id + RECT_IMAGE_PLANE_SUFFIX


class Rectifier:
    """Rectifies one topic's images; `rectify` gives (image, Pinhole of P) or None (then the raw image is all)."""

    def __init__(self, warn: Callable[[str], None]):
        self._warn = warn
        self._calibration: Calibration | None = None
        self._maps: RectifyMaps | None = None
        self._pinholes: dict[str, Any] = {}  # frame_id -> the rectified Pinhole, for the current maps
        self._lock = threading.Lock()
        self.waiting = 0  # frames that came before any calibration

    def maps(self, calibration: Calibration) -> RectifyMaps | None:
        """The tables for `calibration`, computed when it differs from the last; None (warned once) if it cannot rectify."""
        with self._lock:
            if calibration != self._calibration:
                self._calibration, self._maps, self._pinholes = calibration, None, {}
                try:
                    self._maps = rectify_maps(calibration)
                except CalibrationError as err:
                    self._warn(f"not rectified (logged raw): {err}")
            return self._maps

    def rectify(self, calibration: Calibration, frame_id: str,
                rectify: Callable[[RectifyMaps], Any]) -> tuple[Any, Any] | None:  # fmt: skip
        """What `rectify` makes of the frame with the calibration's tables, and the Pinhole of its image plane;
        None when the frame stays raw (`rectify_image` for an Image, `rectify_compressed` for a CompressedImage)."""
        maps = self.maps(calibration)
        if maps is None:
            return None
        try:
            image = rectify(maps)
        except ConversionError as err:
            self._warn(f"not rectified (logged raw): {err}")
            return None
        return image, self._pinhole(maps, frame_id)

    def _pinhole(self, maps: RectifyMaps, frame_id: str) -> Any:
        with self._lock:
            if frame_id not in self._pinholes:
                frames = {"parent_frame": frame_id, "child_frame": rect_image_plane_frame(frame_id)} if frame_id else {}
                self._pinholes[frame_id] = rr.Pinhole(image_from_camera=maps.rectified_matrix, resolution=maps.size,
                                                      camera_xyz=rr.ViewCoordinates.RDF, **frames)  # fmt: skip
            return self._pinholes[frame_id]
