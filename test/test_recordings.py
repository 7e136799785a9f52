"""The tests' two ways of reading a recording back agree: the catalog reader (a Rerun server) and
rerun-sdk's chunk reader, which large recordings are checked with (test/recordings.py says why)."""

from __future__ import annotations

import pyarrow as pa
from recordings import column, read_entities, read_recording, rows

from bridge.cli import main
from bridge.demo import COLOR_TOPIC, write_demo_bag


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
