"""The bridge's command line in a process of its own, started as a user starts it."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import ContextManager, Iterator

REPO = Path(__file__).resolve().parents[1]


def running_bridge(*args: str | Path) -> ContextManager[subprocess.Popen]:
    """`python -m bridge ARGS`: the command line, as `running_module` starts it."""
    return running_module("bridge", *args)


@contextmanager
def running_module(module: str, *args: str | Path) -> Iterator[subprocess.Popen]:
    """`python -m MODULE ARGS` from the repository, with its stderr as text; killed on the way out if still running.

    Ctrl-C gets its default handling back in the process: a shell starts background jobs (a CI runner's
    steps, `cmd &`) with SIGINT ignored, which Python then never turns into KeyboardInterrupt, so a test
    sending SIGINT would not test the bridge's Ctrl-C.
    """
    process = subprocess.Popen(
        [sys.executable, "-m", module, *map(str, args)],
        cwd=REPO, stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(REPO)},
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )  # fmt: skip
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def read_until(process: subprocess.Popen, text: str, timeout: float = 60.0) -> str:
    """The process's stderr (text) up to and including the first line that holds `text`.

    What a test waits for instead of sleeping: fails when the process's stderr ends first or `timeout`
    seconds pass. A thread reads, so that a process that goes silent cannot hold the test beyond the
    timeout; it stops after that line, leaving the rest to `communicate()`.
    """
    lines: queue.Queue[str] = queue.Queue()

    def read() -> None:
        for line in process.stderr:
            lines.put(line)
            if text in line:
                return
        lines.put("")  # the end of stderr

    threading.Thread(target=read, daemon=True).start()
    deadline = time.monotonic() + timeout
    seen = ""
    while text not in seen:
        try:
            line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            raise AssertionError(f"no {text!r} within {timeout:g} s; stderr so far:\n{seen}") from None
        assert line, f"stderr ended before {text!r}:\n{seen}"
        seen += line
    return seen
