"""Depth registration and true-colour clouds (issue 12): the cost per depth frame of the pure functions.

    .venv/bin/python -m bench.rgbd_bench [--repeats 20]

Prints, per depth size (VGA, 720p) into a colour camera of the same size 5 cm away, the minimum and median
milliseconds of `register_depth` (every valid pixel back-projected, moved, projected and z-buffered) and of
`coloured_cloud` at 100,000 points (the default `max_points`) and at every pixel, with the load average
(other work on the machine inflates the medians).
"""

from __future__ import annotations

import functools

import numpy as np

from bench.rectify_bench import Cost, command_line, timed
from bridge.conversion.register import register_depth
from bridge.conversion.rgbd import coloured_cloud


def measure(repeats: int = 20) -> list[Cost]:
    """Per depth size, into a colour camera of the same size 5 cm away: registration and clouds."""
    rng = np.random.default_rng(0)
    colour_from_depth = np.eye(4)
    colour_from_depth[0, 3] = -0.05
    costs = []
    for width, height in ((640, 480), (1280, 720)):
        matrix = np.array([[0.8 * width, 0, width / 2], [0, 0.8 * width, height / 2], [0, 0, 1]])
        depth = rng.integers(500, 5000, (height, width), dtype=np.uint16)
        colours = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
        cases = {
            "register_depth": (register_depth, (depth, matrix, matrix, (width, height), colour_from_depth)),
            "coloured_cloud, 100,000 points": (coloured_cloud, (depth, matrix, 1000.0, colours, matrix, colour_from_depth, 100_000)),
            "coloured_cloud, every pixel": (coloured_cloud, (depth, matrix, 1000.0, colours, matrix, colour_from_depth)),
        }  # fmt: skip
        for name, (function, arguments) in cases.items():
            costs.append(Cost(name, f"{width}x{height} 16UC1", *timed(functools.partial(function, *arguments), repeats)))
    return costs


def main() -> None:
    command_line(__doc__.splitlines()[0], measure, 20, "")


if __name__ == "__main__":
    main()
