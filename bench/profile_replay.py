"""Where one replay's time goes, measured in a fresh process so that start-up counts as it does for users.

    python -m bench.profile_replay BAG OUT.rrd      # prints {phase: seconds} as JSON

The replay runs under cProfile (which slows Python code a little); each phase
is the cumulative time of the functions that do it, on the main thread (a
renamed function shows as 0 and its time as "other"). Rerun encodes and writes
in background threads: the main thread's waits for them (the replay's periodic
drains, the final close) show as "waiting". Modules imported on first use count
in the phase that first uses them, and are also given on their own.
"""

from __future__ import annotations

import time

_began = time.perf_counter()

import argparse  # noqa: E402  (after the clock starts: imports are a phase)
import cProfile  # noqa: E402
import json  # noqa: E402
import pstats  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Sequence  # noqa: E402

from bridge.config import BridgeConfig, SinksConfig  # noqa: E402
from bridge.core import Bridge  # noqa: E402
from bridge.replay import ReplayOptions, replay  # noqa: E402
from bridge.sinks import Recording  # noqa: E402

_imported = time.perf_counter()

LAZY_IMPORTS = "of which modules imported on first use"  # not a phase: part of the phases that import them

# phase -> the (file suffix, function name) pairs whose cumulative times add up to it
PHASES: dict[str, list[tuple[str, str]]] = {
    "reading (bag storage)": [("bridge/sources/bag.py", "messages")],
    "deserializing (rosbags)": [("bridge/sources/bag.py", "deserialize")],
    "converting (bridge.conversion)": [
        ("bridge/conversion/image.py", "convert_image"),
        ("bridge/conversion/compressed.py", "convert_compressed_image"),
        ("bridge/conversion/camera_info.py", "pinhole_from_camera_info"),
    ],
    "logging (rerun-sdk's bindings: Arrow, batching)": [("bridge/sinks/native.py", "log_row"),
                                                         ("rerun/recording_stream.py", "send_columns")],
    "waiting for Rerun's encoder and file sink (drain, close)": [
        ("bridge/sinks/recording.py", "drain"),
        ("bridge/sinks/recording.py", "close"),
    ],
}


def profile(bag: Path, output: Path) -> dict[str, float]:
    profiler = cProfile.Profile()
    profiler.enable()
    config = BridgeConfig().with_sinks(SinksConfig(file=output))
    recording = Recording(config.recording)
    replay([bag], Bridge(config, recording), ReplayOptions(progress=False))
    recording.close()
    profiler.disable()
    ended = time.perf_counter()
    stats = pstats.Stats(profiler).stats  # type: ignore[attr-defined]  # {(file, line, name): (cc, nc, tt, ct, callers)}
    measured = {phase: cumulative(stats, functions) for phase, functions in PHASES.items()}
    return {
        "start-up (imports)": _imported - _began,
        **measured,
        "other (replay loop, stats)": max(0.0, ended - _imported - sum(measured.values())),
        "total": ended - _began,
        LAZY_IMPORTS: cumulative(stats, [("importlib._bootstrap>", "_find_and_load")]),
    }


def cumulative(stats: dict, functions: list[tuple[str, str]]) -> float:
    """The summed cumulative time of `functions` (file suffix, name)."""
    return sum(
        entry[3] for (file, _, name), entry in stats.items()
        if any(file.endswith(suffix) and name == function for suffix, function in functions)
    )  # fmt: skip


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("bag", type=Path)
    parser.add_argument("output", type=Path)
    args = parser.parse_args(argv)
    print(json.dumps(profile(args.bag, args.output)))


if __name__ == "__main__":
    main()
