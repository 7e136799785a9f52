"""The tests' two ways of reading a recording back agree: the catalog reader (a Rerun server) and
rerun-sdk's chunk reader, which large recordings are checked with (test/recordings.py says why)."""

from __future__ import annotations

import math
import time

import pyarrow as pa
import rerun as rr
from recordings import column, read_entities, read_recording, rows
from rerun.chunk import RrdReader

from bridge.cli import main
from bridge.config import RecordingConfig, SinksConfig
from bridge.demo import COLOR_TOPIC, write_demo_bag
from bridge.sinks import Recording
from bridge.sinks.recording import FILE_FLUSH_TICK_S


def test_the_chunk_reader_gives_the_catalog_readers_rows(tmp_path):
    bag = write_demo_bag(tmp_path / "demo", frames=6, width=64, height=48)
    assert main(["replay", "--no-progress", str(bag), "-o", str(tmp_path / "demo.rrd")]) == 0
    catalog = read_recording(tmp_path / "demo.rrd")
    chunks = read_entities(tmp_path / "demo.rrd", "/**")

    def sorted_columns(table: pa.Table) -> pa.Table:
        names = sorted(n for n in table.column_names if n != "rerun_segment_id")
        return table.select(names).sort_by("ros2_timestamp")

    assert sorted_columns(chunks).equals(sorted_columns(catalog))
    name = f"{COLOR_TOPIC}:Image:buffer"
    assert [cell.as_py() for _, cell in rows(tmp_path / "demo.rrd", name)] == column(catalog, name)


def test_a_file_alone_gets_rows_batched_into_few_chunks(tmp_path):
    """Each chunk costs its headers and schema: small rows written to a file alone share chunks of up to 2 s
    (FILE_FLUSH_TICK_S) rather than one per rerun-sdk's 200 ms tick. All rows arrive, in order."""
    recording = Recording(RecordingConfig(sinks=SinksConfig(file=tmp_path / "f.rrd")))
    began = time.monotonic()
    for i in range(20):  # over about a second: five of rerun-sdk's default ticks
        recording.log("/camera/info", rr.Pinhole(focal_length=500.0 + i, width=640, height=480), times={"t": i * 1_000_000})
        time.sleep(0.05)
    spread_s = time.monotonic() - began
    recording.close()
    chunks = list(RrdReader(tmp_path / "f.rrd").stream().filter(content="/camera/info"))
    matrices = [cell.as_py()[0] for _, cell in rows(tmp_path / "f.rrd", "/camera/info:Pinhole:image_from_camera", "t")]
    assert [matrix[0] for matrix in matrices] == [500.0 + i for i in range(20)]  # fx of each row, in order
    assert len(chunks) <= math.ceil(spread_s / FILE_FLUSH_TICK_S) + 1, f"{len(chunks)} chunks over {spread_s:.1f} s"
