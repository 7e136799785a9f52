"""Run a command and measure it: wall time, CPU time and the peak resident memory of the command itself.

The peak comes from GNU `/usr/bin/time` when installed, else from polling
`/proc/<pid>/status` (VmHWM, the high-water mark, so only growth in the last
poll interval can be missed). `os.wait4`'s `ru_maxrss` alone would not do: a
child forked from this (large) Python process carries its parent's resident
size in that figure even after it has exec'ed a small program like `cp`.

On request, the CPU time of each of the command's threads, by thread name
(`/proc/<pid>/task`, sampled every `THREAD_POLL_S`: a thread's last interval
before it ends can be missed), shows which of them is the bottleneck.
"""

from __future__ import annotations

import compileall
import os
import shutil
import subprocess
import tempfile
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Sequence

REPO = Path(__file__).resolve().parent.parent
GNU_TIME = shutil.which("time", path="/usr/bin:/bin")
POLL_S = 0.02
THREAD_POLL_S = 0.1


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
    thread_cpu_s: dict[str, float] = field(default_factory=dict)  # thread name -> CPU seconds, when asked for

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    def failure(self) -> str:
        return f"exit {self.returncode}: {tail(self.stderr)}"


def compile_bridge() -> None:
    """Write the bridge's bytecode, as pip and colcon do on install, so that no run pays for compiling it.

    A checkout run with PYTHONDONTWRITEBYTECODE set (as in CI containers) would otherwise compile every
    module on every run: 0.1-0.2 s that no installed bridge spends.
    """
    compileall.compile_dir(REPO / "bridge", quiet=1)


def tail(stderr: str, lines: int = 3) -> str:
    """The last lines of a process's stderr, on one line: why it failed."""
    return " | ".join(stderr.strip().splitlines()[-lines:]) or "no message"


def run_measured(command: Sequence[str | Path], env: Mapping[str, str] | None = None, threads: bool = False) -> Measurement:
    """Run `command` from the repository root to its end, keeping its output (and its threads' CPU if `threads`)."""
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        rss_file, stdout_file, stderr_file = Path(tmp, "peak_rss_kib"), Path(tmp, "stdout"), Path(tmp, "stderr")
        argv = [str(c) for c in command]
        if GNU_TIME:
            argv = [GNU_TIME, "--format=%M", f"--output={rss_file}", *argv]
        with stdout_file.open("w") as stdout, stderr_file.open("w") as stderr:
            began = time.perf_counter()
            process = subprocess.Popen(argv, cwd=REPO, env=env, stdout=stdout, stderr=stderr)
            sampler = ThreadSampler(process.pid, command_is_child=bool(GNU_TIME)) if threads else None
            polled_kib = 0 if GNU_TIME else _poll_peak_rss_kib(process.pid)
            _, status, usage = os.wait4(process.pid, 0)
            wall_s = time.perf_counter() - began
            thread_cpu_s = sampler.stop() if sampler is not None else {}
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
            thread_cpu_s=thread_cpu_s,
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


class ThreadSampler:
    """CPU seconds of each thread of a running process, summed by thread name, sampled until `stop`."""

    def __init__(self, pid: int, command_is_child: bool):
        self._pid = pid
        self._command_is_child = command_is_child  # `pid` is GNU time's: the command is its only child
        self._last: dict[int, tuple[str, float]] = {}  # thread id -> (name, CPU s) at its last sample
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._sample, name="thread sampler", daemon=True)
        self._thread.start()

    def stop(self) -> dict[str, float]:
        self._stopped.set()
        self._thread.join()
        by_name: dict[str, float] = defaultdict(float)
        for name, cpu_s in self._last.values():
            by_name[name] += cpu_s
        return dict(sorted(by_name.items(), key=lambda item: -item[1]))

    def _sample(self) -> None:
        ticks = os.sysconf("SC_CLK_TCK")
        while not self._stopped.wait(THREAD_POLL_S):
            for pid in self._command_pids():
                for task in Path(f"/proc/{pid}/task").glob("*"):
                    try:
                        stat = (task / "stat").read_text()
                    except OSError:  # the thread ended
                        continue
                    name, fields = stat[stat.index("(") + 1 : stat.rindex(")")], stat[stat.rindex(")") + 2 :].split()
                    self._last[int(task.name)] = (name, (int(fields[11]) + int(fields[12])) / ticks)  # utime + stime

    def _command_pids(self) -> list[int]:
        """The command's process and its descendants (a launcher such as `rerun`'s Python wrapper runs the real
        program as its child); not GNU time's process."""
        pids, found = [self._pid], []
        while pids:
            pid = pids.pop()
            if pid != self._pid or not self._command_is_child:
                found.append(pid)
            try:
                pids += [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
            except OSError:  # ended
                continue
        return found
