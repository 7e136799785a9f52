"""Rectification (issue 12): the cost of one remap per frame, and of building the maps once per calibration.

    .venv/bin/python -m bench.rectify_bench [--repeats 40]

Prints, per size (720p, 1080p) and pixel type, the minimum and median milliseconds of `remap` (the bridge's
own function: bilinear with the faster of OpenCV's float or fixed-point tables for colour, nearest neighbour
for depth) over a strong plumb_bob calibration, then at 1080p the levers compared (float against fixed-point
tables, padded rows copied first or read as a view, one OpenCV thread), with the OpenCV version and the load
average (other work on the machine inflates the medians).
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

from bridge.conversion.rectify import Calibration, RectifyMaps, rectify_maps, remap


def calibration(width: int, height: int) -> Calibration:
    f = 0.8 * width
    k = (f, 0.0, width / 2, 0.0, f, height / 2, 0.0, 0.0, 1.0)
    p = (0.9 * f, 0.0, width / 2, 0.0, 0.0, 0.9 * f, height / 2, 0.0, 0.0, 0.0, 1.0, 0.0)
    return Calibration("plumb_bob", (-0.3, 0.1, 0.001, -0.001, 0.0), k, (1.0, 0, 0, 0, 1.0, 0, 0, 0, 1.0), p,
                       width, height, (0, 0), (0, 0, 0, 0))  # fmt: skip


@dataclass(frozen=True)
class Cost:
    """One operation's milliseconds per frame, as `timed` gives them."""

    operation: str
    frame: str  # its size and pixel type
    best_ms: float
    median_ms: float


def timed(function, repeats: int) -> tuple[float, float]:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times) * 1e3, float(np.median(times)) * 1e3


def measure(repeats: int = 40) -> list[Cost]:
    """`remap` per frame at 720p and 1080p for each pixel type, building the maps once per calibration, and at
    1080p the ways to remap compared (`compared`)."""
    rng = np.random.default_rng(0)
    costs = []
    for width, height in ((1280, 720), (1920, 1080)):
        costs.append(Cost("rectify: maps, once per calibration", f"{width}x{height}",
                          *timed(lambda: rectify_maps(calibration(width, height)).fixed_point(), 3)))  # fmt: skip
        maps = rectify_maps(calibration(width, height))
        frames = {
            "rgb8 (bilinear)": (rng.integers(0, 256, (height, width, 3), dtype=np.uint8), False),
            "rgb8, rows padded (bilinear)": (padded(rng.integers(0, 256, (height, width, 3), dtype=np.uint8)), False),
            "mono8 (bilinear)": (rng.integers(0, 256, (height, width), dtype=np.uint8), False),
            "mono16 (bilinear)": (rng.integers(0, 65536, (height, width), dtype=np.uint16), False),
            "16UC1 (nearest)": (rng.integers(0, 5000, (height, width), dtype=np.uint16), True),
            "32FC1 (nearest)": (rng.random((height, width), dtype=np.float32), True),
        }
        for name, (pixels, depth) in frames.items():
            remap(pixels, maps, depth)  # the maps' lazy tables
            costs.append(Cost("rectify: remap", f"{width}x{height} {name}", *timed(lambda: remap(pixels, maps, depth), repeats)))
    return costs + compared(maps, frames, repeats)


def padded(pixels: np.ndarray, padding: int = 64) -> np.ndarray:
    """A view of `pixels` whose rows are `padding` bytes apart more than their width, as a `step` can give."""
    height, row_bytes = pixels.shape[0], pixels[0].nbytes
    rows = np.zeros((height, row_bytes + padding), np.uint8)
    rows[:, :row_bytes] = pixels.reshape(height, -1).view(np.uint8)
    return rows[:, :row_bytes].view(pixels.dtype).reshape(pixels.shape)


def compared(maps: RectifyMaps, frames: dict[str, tuple[np.ndarray, bool]], repeats: int) -> list[Cost]:
    """The levers on `remap`'s cost, on its 1080p frames: float against fixed-point tables per pixel type (it
    takes the faster), padded rows copied first or read as a view (it takes the view), one OpenCV thread."""
    fixed, floats = maps.fixed_point(), (maps.map_x, maps.map_y)
    width, height = maps.size

    def bilinear(pixels: np.ndarray, tables: tuple[np.ndarray, np.ndarray]) -> Callable[[], np.ndarray]:
        return lambda: cv2.remap(pixels, *tables, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)

    rgb8, padded_rgb8 = frames["rgb8 (bilinear)"][0], frames["rgb8, rows padded (bilinear)"][0]
    mono8, mono16 = frames["mono8 (bilinear)"][0], frames["mono16 (bilinear)"][0]
    ways = {
        "rgb8, float tables": bilinear(rgb8, floats),
        "rgb8, fixed-point tables": bilinear(rgb8, fixed),
        "mono8, fixed-point tables": bilinear(mono8, fixed),
        "mono8, float tables": bilinear(mono8, floats),
        "mono16, fixed-point tables": bilinear(mono16, fixed),
        "mono16, float tables": bilinear(mono16, floats),
        "rgb8, rows padded, copied first": lambda: remap(np.ascontiguousarray(padded_rgb8), maps, False),
        "rgb8, rows padded, as a view": lambda: remap(padded_rgb8, maps, False),
    }
    costs = [Cost("rectify: remap, compared", f"{width}x{height} {name}", *timed(way, repeats)) for name, way in ways.items()]
    threads = cv2.getNumThreads()
    cv2.setNumThreads(1)
    try:
        costs.append(Cost("rectify: remap, compared", f"{width}x{height} rgb8, 1 OpenCV thread (not {threads})",
                          *timed(lambda: remap(rgb8, maps, False), repeats)))  # fmt: skip
    finally:
        cv2.setNumThreads(threads)
    return costs


def print_costs(costs: list[Cost]) -> None:
    for cost in costs:
        print(f"{cost.operation:36} {cost.frame:44} min {cost.best_ms:6.1f} ms  median {cost.median_ms:6.1f} ms")


def command_line(description: str, measure: Callable[[int], list[Cost]], repeats: int, header: str) -> None:
    """A bench's command: `--repeats N`, then `header` (with the load average) and the costs `measure` gives."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--repeats", type=int, default=repeats)
    args = parser.parse_args()
    print(f"{header}load average {os.getloadavg()[0]:.1f}")
    print_costs(measure(args.repeats))


def main() -> None:
    command_line(__doc__.splitlines()[0], measure, 40, f"OpenCV {cv2.__version__}, {cv2.getNumThreads()} threads, ")


if __name__ == "__main__":
    main()
