"""Where Rerun data goes: a `.rrd` file, a native viewer, a remote viewer, a web viewer; several at once."""

from .output import OutputError
from .recording import Recording, SinkError

__all__ = ["OutputError", "Recording", "SinkError"]
