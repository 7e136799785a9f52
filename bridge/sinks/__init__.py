"""Where Rerun data goes: a `.rrd` file, a native viewer, a remote viewer, a web viewer; several at once."""

from .recording import open_recording, close_recording

__all__ = ["close_recording", "open_recording"]
