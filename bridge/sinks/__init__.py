"""Where Rerun data goes: a `.rrd` file, a native viewer, a remote viewer, a web viewer; several at once."""

from .recording import SinkError, close_recording, open_recording

__all__ = ["SinkError", "close_recording", "open_recording"]
