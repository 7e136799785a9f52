"""The bridge's command line in a process of its own, started as a user starts it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]


def start_bridge(*args: str | Path, **popen: Any) -> subprocess.Popen:
    """`python -m bridge ARGS` from the repository, with its stderr as text.

    Ctrl-C gets its default handling back in the process: a shell starts background jobs (a CI runner's
    steps, `cmd &`) with SIGINT ignored, which Python then never turns into KeyboardInterrupt, so a test
    sending SIGINT would not test the bridge's Ctrl-C.
    """
    return subprocess.Popen(
        [sys.executable, "-m", "bridge", *map(str, args)],
        cwd=REPO, stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(REPO)},
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL), **popen,
    )  # fmt: skip
