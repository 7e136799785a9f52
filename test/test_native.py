"""bridge/sinks/native.py: rows through rerun-sdk's bindings are the rows the public API logs.

The first test fails when a rerun-sdk upgrade changes the bindings: the bridge then logs through the
public API (correct, but slower). Check what `rerun._log._log_components` and `rerun.time.set_time` now
call, update `native.SIGNATURES` (and the calls) to match, and run these tests again.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import rerun as rr
from recordings import read_recording

from bridge.conversion.archetypes import depth_image, image
from bridge.sinks import native

T0 = 1_700_000_000_000_000_000


def test_the_bindings_are_those_this_bridge_knows():
    assert native.BINDINGS is not None, (
        f"rerun-sdk {rr.__version__}'s bindings differ from {native.SIGNATURES}: bridge/sinks/native.py "
        "now logs through the public API (slower); see this file's docstring"
    )


def rows() -> list[tuple[str, tuple, dict[str, int] | None]]:
    pixels = np.arange(4 * 6 * 3, dtype=np.uint8).reshape(4, 6, 3)
    plane = rr.CoordinateFrame("camera_image_plane")
    return [
        ("/camera/info", (rr.Pinhole(focal_length=500.0, width=6, height=4), rr.AnyValues(model="plumb_bob")),
         {"ros2_timestamp": T0, "message_log_time": T0 + 5}),
        ("/camera/color", (image(pixels, "RGB"), plane), {"ros2_timestamp": T0, "message_log_time": T0 + 7}),
        ("/camera/depth", (depth_image(np.full((4, 6), 1500, np.uint16), meter=1000.0), plane),
         {"ros2_timestamp": T0 + 1, "message_log_time": T0 + 9}),
        ("/camera/color", (image(pixels[::-1].copy(), "RGB"), plane), {"ros2_timestamp": T0 + 2, "message_log_time": T0 + 11}),
        ("/tf_static", (rr.Transform3D(translation=[1, 2, 3], parent_frame="base", child_frame="camera"),), None),
    ]  # fmt: skip


def record(path, log) -> pa.Table:
    stream = rr.RecordingStream("native_test", recording_id="same")
    stream.set_sinks(rr.FileSink(str(path)))
    for entity, archetypes, times in rows():
        log(stream, entity, archetypes, times)
    stream.flush()
    stream.disconnect()
    return read_recording(path)


def without_log_time(table: pa.Table) -> pa.Table:
    """`log_time` is when the row was logged: the one column two recordings of the same rows differ in."""
    return table.drop_columns([name for name in table.column_names if name.startswith("log_")])


def test_rows_through_the_bindings_equal_rows_through_the_public_api(tmp_path):
    through_bindings = record(tmp_path / "native.rrd", native.log_row)
    through_public = record(tmp_path / "public.rrd", native._log_public)
    assert through_bindings.num_rows == 3  # one row per ros2_timestamp
    assert without_log_time(through_bindings).equals(without_log_time(through_public))
