"""Run a command and measure it: wall time, CPU time and the peak resident memory of the command itself.

The peak comes from GNU `/usr/bin/time` when installed, else from polling
`/proc/<pid>/status` (VmHWM, the high-water mark, so only growth in the last
poll interval can be missed). `os.wait4`'s `ru_maxrss` alone would not do: a
child forked from this (large) Python process carries its parent's resident
size in that figure even after it has exec'ed a small program like `cp`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

REPO = Path(__file__).resolve().parent.parent
GNU_TIME = shutil.which("time", path="/usr/bin:/bin")
POLL_S = 0.02


class BenchError(RuntimeError):
    """A benchmark that could not run; the text says which and why."""


@dataclass(frozen=True)
class Measurement:
    wall_s: float
    cpu_s: float  # user + system, of every thread and child
    peak_rss_mb: float
    returncode: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    def failure(self) -> str:
        return f"exit {self.returncode}: {tail(self.stderr)}"


def tail(stderr: str, lines: int = 3) -> str:
    """The last lines of a process's stderr, on one line: why it failed."""
    return " | ".join(stderr.strip().splitlines()[-lines:]) or "no message"


def run_measured(command: Sequence[str | Path], env: Mapping[str, str] | None = None) -> Measurement:
    """Run `command` from the repository root to its end, keeping its output."""
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        rss_file, stdout_file, stderr_file = Path(tmp, "peak_rss_kib"), Path(tmp, "stdout"), Path(tmp, "stderr")
        argv = [str(c) for c in command]
        if GNU_TIME:
            argv = [GNU_TIME, "--format=%M", f"--output={rss_file}", *argv]
        with stdout_file.open("w") as stdout, stderr_file.open("w") as stderr:
            began = time.perf_counter()
            process = subprocess.Popen(argv, cwd=REPO, env=env, stdout=stdout, stderr=stderr)
            polled_kib = 0 if GNU_TIME else _poll_peak_rss_kib(process.pid)
            _, status, usage = os.wait4(process.pid, 0)
            wall_s = time.perf_counter() - began
        process.returncode = os.waitstatus_to_exitcode(status)  # reaped here: Popen must not wait again
        # GNU time writes "Command exited with non-zero status N" first when the command fails.
        peak_kib = int(rss_file.read_text().split()[-1]) if GNU_TIME else polled_kib
        return Measurement(
            wall_s=wall_s,
            cpu_s=usage.ru_utime + usage.ru_stime,
            peak_rss_mb=peak_kib * 1024 / 1e6,
            returncode=process.returncode,
            stdout=stdout_file.read_text(),
            stderr=stderr_file.read_text(),
        )


def _poll_peak_rss_kib(pid: int) -> int:
    """VmHWM of `pid` until it exits (left unreaped for the caller)."""
    status = Path(f"/proc/{pid}/status")
    peak = 0
    while os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is None:
        try:
            lines = status.read_text().splitlines()
        except OSError:  # exiting
            break
        peak = max([peak] + [int(line.split()[1]) for line in lines if line.startswith("VmHWM:")])
        time.sleep(POLL_S)
    return peak
