"""Log archetypes into a real `.rrd` and read back what Rerun stored, so tests check what arrives."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import rerun as rr

from recordings import column, read_recording


def read_back(path: Path, archetypes: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """entity -> {"archetype": name, field: first instance of the stored batch} for each logged archetype."""
    recording = rr.RecordingStream("ros2_rerun_bridge_test")
    recording.save(path)
    recording.set_time("ros2_timestamp", timestamp=0)
    for entity, archetype in archetypes.items():
        recording.log(entity, archetype)
    recording.flush()
    recording.disconnect()

    table = read_recording(path)
    arrived: dict[str, dict[str, Any]] = {}
    for name in table.column_names:
        entity, archetype, field = (name.split(":") + ["", ""])[:3]
        if entity not in archetypes or not field:
            continue
        cells = column(table, name)
        fields = arrived.setdefault(entity, {"archetype": archetype})
        fields[field] = cells[0][0]
    return arrived
