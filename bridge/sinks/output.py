"""The `.rrd` file a run writes: under a temporary name beside it, renamed into place when kept.

A run that fails before converting anything then leaves no file, and an existing file is only
replaced by a recording that holds something. Special files (`/dev/null`, a FIFO) are written
directly: they cannot be renamed over.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from .errors import OutputError


RRD_MAGIC = (b"RRF2", b"RRIO")  # the first bytes of a Rerun recording file


def is_recording(path: Path) -> bool:
    """Whether `path` is a Rerun recording file (by its magic bytes)."""
    try:
        with path.open("rb") as file:
            return file.read(4) in RRD_MAGIC
    except OSError:
        return False


class OutputFile:
    """A recording file being written; `finish` renames it into place or removes it."""

    def __init__(self, path: Path):
        self.path = path
        special = path.exists() and not stat.S_ISREG(path.stat().st_mode)
        self.writing = path if special else path.with_name(f".{path.name}.partial")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self.writing.open("ab").close()  # fails now, with the OS's reason, rather than in Rerun's writer thread
        except FileExistsError:  # mkdir: the folder to write in is a file
            raise OutputError(f"{path}: cannot write: {path.parent} is a file, not a folder") from None
        except OSError as err:
            raise OutputError(f"{path}: cannot write: {err.strerror or err}") from None

    def finish(self, keep: bool) -> None:
        """Rename the file into place when `keep`, else remove what was written."""
        if self.writing == self.path:
            return
        try:
            if keep:
                os.replace(self.writing, self.path)
            else:
                self.writing.unlink(missing_ok=True)
        except OSError as err:
            raise OutputError(f"{self.path}: cannot {'rename' if keep else 'remove'} {self.writing}: {err.strerror}") from None
