"""Rows logged through rerun-sdk's bindings: the one module that goes below rerun-sdk's public API.

`RecordingStream.set_time` and `log` check and convert their arguments in Python on every call: about
200 us a row here, as much as a whole 720p frame's conversion. What they end in, `rerun_bindings`'
`set_time_timestamp_nanos_since_epoch` and `log_arrow_msg`, takes the same Arrow arrays for a third of
that; rerun-sdk's own `_log_components` calls it so, after its checks. The bindings are not a public
API: where they are not as this module knows them (a rerun-sdk other than setup.py's), `BINDINGS` is
None and rows go through the public API, as fast as before; test_native then fails, so that an upgrade
cannot slow the bridge down unnoticed.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from types import ModuleType
from typing import Any

import numpy as np
import rerun as rr

# The bindings' signatures this module was written against (rerun-sdk 0.41).
SIGNATURES = {
    "log_arrow_msg": "(entity_path, components, static_, recording=None)",
    "set_time_timestamp_nanos_since_epoch": "(timeline, nanos, recording=None)",
}


def _known_bindings() -> ModuleType | None:
    """rerun-sdk's bindings module, when its functions this module calls are as it knows them."""
    try:
        import rerun_bindings

        signatures = {name: str(inspect.signature(getattr(rerun_bindings, name))) for name in SIGNATURES}
    except (ImportError, AttributeError, TypeError, ValueError):
        return None
    return rerun_bindings if signatures == SIGNATURES else None


BINDINGS = _known_bindings()


def log_row(stream: rr.RecordingStream, entity_path: str, archetypes: tuple[Any, ...],
            times: Mapping[str, int] | None) -> None:  # fmt: skip
    """Log `archetypes` to `entity_path` at `times` (timeline -> ns since the epoch); None: as static data."""
    if BINDINGS is None:
        _log_public(stream, entity_path, archetypes, times)
        return
    native = stream.to_native()
    for timeline, ns in (times or {}).items():
        BINDINGS.set_time_timestamp_nanos_since_epoch(timeline, ns, recording=native)
    components: dict[Any, Any] = {}
    for archetype in archetypes:
        for batch in archetype.as_component_batches():
            components.setdefault(batch.component_descriptor(), batch.as_arrow_array())  # the first, as `rr.log`
    BINDINGS.log_arrow_msg(entity_path, components=components, static_=times is None, recording=native)


def _log_public(stream: rr.RecordingStream, entity_path: str, archetypes: tuple[Any, ...],
                times: Mapping[str, int] | None) -> None:  # fmt: skip
    for timeline, ns in (times or {}).items():
        stream.set_time(timeline, timestamp=np.datetime64(ns, "ns"))
    stream.log(entity_path, *archetypes, static=times is None)
