"""`sensor_msgs/CameraInfo` through `pinhole_from_camera_info` into a real .rrd.

The expected intrinsics follow image_geometry's `PinholeCameraModel::fromCameraInfo`
(ROI offset first, then fx, cx / binning_x and fy, cy / binning_y; binning 0 means
1; an all-zero ROI means the full image) and `reducedResolution` (ROI size /
binning). Rerun stores the 3x3 `image_from_camera` column-major.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from bridge.conversion import ConversionError, Intrinsics, pinhole_from_camera_info
from readback import read_back
from recordings import camera_info_msg

WIDTH, HEIGHT = 640, 480
K = np.array([[610.5, 0.0, 322.75], [0.0, 598.25, 241.125], [0.0, 0.0, 1.0]])  # fx != fy
P = np.array([[600.0, 0.0, 318.0, -36.0], [0.0, 590.0, 236.0, 0.0], [0.0, 0.0, 1.0, 0.0]])  # a right stereo camera
RDF = [3, 2, 5]  # Rerun's ViewDir: Right = 3, Down = 2, Forward = 5
POINT = np.array([0.3, -0.2, 2.0])  # in the optical frame, metres

CASES = {  # name -> (intrinsics, (binning_x, binning_y), roi (x_offset, y_offset, width, height))
    "K": (Intrinsics.K, (0, 0), (0, 0, 0, 0)),
    "P": (Intrinsics.P, (0, 0), (0, 0, 0, 0)),
    "binning_1": (Intrinsics.K, (1, 1), (0, 0, 0, 0)),
    "binning_2x2": (Intrinsics.K, (2, 2), (0, 0, 0, 0)),
    "binning_4x2": (Intrinsics.K, (4, 2), (0, 0, 0, 0)),
    "roi": (Intrinsics.K, (0, 0), (100, 60, 320, 240)),
    "roi_binning": (Intrinsics.K, (2, 4), (100, 60, 320, 240)),
    "roi_binning_P": (Intrinsics.P, (2, 2), (64, 32, 512, 400)),
}
PARAMS = [(name, *case) for name, case in CASES.items()]


def message(binning: tuple[int, int], roi: tuple[int, int, int, int], frame_id: str = "camera_optical_frame"):
    return camera_info_msg(K, WIDTH, HEIGHT, p=P, binning=binning, roi=roi, frame_id=frame_id)


def image_geometry(intrinsics: Intrinsics, binning: tuple[int, int], roi: tuple[int, int, int, int]):
    """image_geometry's camera matrix and resolution of the published (ROI-cropped, binned) image."""
    matrix = (K if intrinsics is Intrinsics.K else P[:, :3]).copy()
    binning_x, binning_y = binning[0] or 1, binning[1] or 1
    x_offset, y_offset, roi_width, roi_height = roi if any(roi) else (0, 0, WIDTH, HEIGHT)
    matrix[0, 2] -= x_offset
    matrix[1, 2] -= y_offset
    matrix[0, 0] /= binning_x
    matrix[0, 2] /= binning_x
    matrix[1, 1] /= binning_y
    matrix[1, 2] /= binning_y
    return matrix, [roi_width // binning_x, roi_height // binning_y]


def full_resolution_pixel(intrinsics: Intrinsics) -> np.ndarray:
    """Where POINT lands on the full sensor, projected with the message's own matrix."""
    matrix = K if intrinsics is Intrinsics.K else P[:, :3]
    return (matrix @ POINT)[:2] / POINT[2]


@pytest.fixture(scope="module")
def arrived(tmp_path_factory) -> dict[str, dict[str, Any]]:
    pinholes = {
        f"/{name}": pinhole_from_camera_info(message(binning, roi), "camera_optical_frame", intrinsics)
        for name, (intrinsics, binning, roi) in CASES.items()
    }
    pinholes["/no_frame"] = pinhole_from_camera_info(message((0, 0), (0, 0, 0, 0), frame_id=""), "")
    return read_back(tmp_path_factory.mktemp("camera_info") / "camera_info.rrd", pinholes)


def stored_matrix(stored: dict[str, Any]) -> np.ndarray:
    return np.array(stored["image_from_camera"]).reshape(3, 3, order="F")


@pytest.mark.parametrize(("name", "intrinsics", "binning", "roi"), PARAMS, ids=CASES.keys())
def test_pinhole_is_image_geometrys_model(name, intrinsics, binning, roi, arrived):
    stored = arrived[f"/{name}"]
    matrix, resolution = image_geometry(intrinsics, binning, roi)
    np.testing.assert_array_equal(stored_matrix(stored), matrix)
    assert stored["resolution"] == resolution
    assert stored["parent_frame"] == "camera_optical_frame"
    assert stored["child_frame"] == "camera_optical_frame_image_plane"
    assert stored["camera_xyz"] == RDF


@pytest.mark.parametrize(("name", "intrinsics", "binning", "roi"), PARAMS, ids=CASES.keys())
def test_point_projects_onto_the_published_image(name, intrinsics, binning, roi, arrived):
    """The stored matrix maps a 3D point to its full-sensor pixel, cropped by the ROI and binned."""
    uvw = stored_matrix(arrived[f"/{name}"]) @ POINT
    x_offset, y_offset = roi[:2]
    expected = (full_resolution_pixel(intrinsics) - (x_offset, y_offset)) / (binning[0] or 1, binning[1] or 1)
    np.testing.assert_allclose(uvw[:2] / uvw[2], expected, rtol=0, atol=1e-9)


def test_empty_frame_id_gives_a_pinhole_without_frames(arrived):
    stored = arrived["/no_frame"]
    np.testing.assert_array_equal(stored_matrix(stored), K)
    assert stored.get("parent_frame") is None and stored.get("child_frame") is None


def with_k(k: np.ndarray, p: np.ndarray = P):
    return camera_info_msg(k, WIDTH, HEIGHT, p=p)


def replaced(matrix: np.ndarray, index: int, value: float) -> np.ndarray:
    """`matrix` with its element at flat `index` (as in the message's K or P) set to `value`."""
    changed = matrix.copy()
    changed.flat[index] = value
    return changed


@pytest.mark.parametrize(
    ("msg", "intrinsics", "problem"),
    [
        (with_k(replaced(K, 0, np.nan)), Intrinsics.K, r"K\[0\] is nan: not a finite float32"),
        (with_k(replaced(K, 2, np.inf)), Intrinsics.K, r"K\[2\] is inf: not a finite float32"),
        (with_k(replaced(K, 4, 1e308)), Intrinsics.K, r"K\[4\] is 1e\+308: not a finite float32"),
        (with_k(replaced(K, 5, -1e39)), Intrinsics.K, r"K\[5\] is -1e\+39: not a finite float32"),
        (with_k(K, p=replaced(P, 6, 1e308)), Intrinsics.P, r"P\[6\] is 1e\+308: not a finite float32"),
        (with_k(K, p=np.full((3, 4), np.nan)), Intrinsics.P, r"P\[0\] is nan"),
        (with_k(np.zeros((3, 3))), Intrinsics.K,
         r"K has no positive focal length: fx 0.0, fy 0.0 \(uncalibrated camera\?\)"),
        (with_k(K, p=np.zeros((3, 4))), Intrinsics.P, "P has no positive focal length"),
        (with_k(replaced(K, 0, -610.5)), Intrinsics.K, "K has no positive focal length: fx -610.5, fy 598.25"),
        (with_k(replaced(K, 4, -1.0)), Intrinsics.K, "K has no positive focal length: fx 610.5, fy -1.0"),
        (with_k(K, p=replaced(P, 5, 0.0)), Intrinsics.P, "P has no positive focal length: fx 600.0, fy 0.0"),
        (with_k(replaced(K, 0, 1e-300)), Intrinsics.K, "K has no positive focal length: fx 1e-300"),  # 0 as float32
        (camera_info_msg(K, WIDTH, HEIGHT, binning=(1024, 1)), Intrinsics.K,
         r"published image is empty: width x height 640x480, binning 1024x1"),
        (camera_info_msg(K, 0, 0), Intrinsics.K, r"published image is empty: width x height 0x0, binning 1x1"),
        (camera_info_msg(K, WIDTH, HEIGHT, roi=(10, 10, 0, 240)), Intrinsics.K,
         r"published image is empty: roi width x height 0x240, binning 1x1"),
        (camera_info_msg(K, WIDTH, HEIGHT, roi=(0, 0, 320, 240), binning=(1, 512)), Intrinsics.K,
         r"published image is empty: roi width x height 320x240, binning 1x512"),
    ],
    ids=["nan_fx", "inf_cx", "huge_fy", "huge_negative_cy", "huge_P_cy", "nan_P", "zero_K", "zero_P",
         "negative_fx", "negative_fy", "zero_P_fy", "fx_zero_as_float32", "binned_away", "no_size", "empty_roi",
         "roi_binned_away"],
)  # fmt: skip
def test_unusable_camera_info_is_a_conversion_error(msg, intrinsics, problem):
    with pytest.raises(ConversionError, match=problem):
        pinhole_from_camera_info(msg, "camera_optical_frame", intrinsics)


def test_only_the_chosen_matrix_is_checked():
    """A rectified stream's P is used even when the raw calibration K is unusable, and the other way round."""
    unusable = np.full((3, 3), np.nan)
    assert pinhole_from_camera_info(with_k(unusable), "camera_optical_frame", Intrinsics.P) is not None
    assert pinhole_from_camera_info(with_k(K, p=np.zeros((3, 4))), "camera_optical_frame", Intrinsics.K) is not None


def test_largest_float32_values_are_kept():
    """The bounds are float32's: a value Rerun can hold is not rejected."""
    extreme = replaced(replaced(K, 1, np.finfo(np.float32).max), 0, np.finfo(np.float32).tiny)
    pinhole = pinhole_from_camera_info(with_k(extreme), "camera_optical_frame")
    stored = np.array(pinhole.image_from_camera.as_arrow_array().to_pylist()[0]).reshape(3, 3, order="F")
    assert np.all(np.isfinite(stored)) and stored[0, 0] > 0
