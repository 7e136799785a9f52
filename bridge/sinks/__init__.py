"""Where Rerun data goes: a `.rrd` file, a native viewer, a remote viewer, a web viewer; several at once."""

from __future__ import annotations

from typing import Any

from .errors import OutputError, SinkError

__all__ = ["OutputError", "Recording", "SinkError"]


def __getattr__(name: str) -> Any:
    """`Recording` on first use, with rerun-sdk (a second): `convert`'s dispatching process never needs it."""
    if name == "Recording":
        from .recording import Recording

        return Recording
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
