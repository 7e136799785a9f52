"""Running the conversions: in worker processes on this machine, or as Ray tasks on a cluster.

Local workers are `spawn`ed processes (`ProcessPoolExecutor`), each converting one bag at a time, so memory
is bounded per worker as for one `replay`. The biggest bags go first, so that the workers end together
rather than one converting a big bag alone at the end. Only as many bags as there are workers are handed
out at once: when a worker process dies (killed, out of memory, a crash in a library), the bags it may have
been converting are each converted again alone, and the one that kills its worker again is reported as
failed; the others go on.
"""

from __future__ import annotations

import logging
import os
from collections import deque
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Callable, Sequence

from .discover import BagJob
from .worker import FAILED, BagResult, convert_bag, init_worker

log = logging.getLogger("ros2_rerun_bridge")

Done = Callable[[BagJob, BagResult], None]
DEFAULT_TASK_MEMORY_MB = 1024  # what one Ray task declares: a worker converting 1080p bags peaks well below


class RayMissing(RuntimeError):
    """--ray without Ray installed."""


class RayUnavailable(RuntimeError):
    """No Ray cluster to connect to at the address."""


def run_local(jobs: Sequence[BagJob], workers: int, config: Any, settings: str, config_name: str | None, done: Done) -> None:
    """Convert `jobs` in `workers` processes; `done` is called in this process as each bag ends."""
    import multiprocessing

    context = multiprocessing.get_context("spawn")  # no fork of a process that may hold Rerun's threads
    pending = deque(biggest_first(jobs))
    suspects: deque[BagJob] = deque()  # in flight when a worker died: each converted again by itself
    running: dict[Future, tuple[BagJob, bool]] = {}  # -> the bag, whether it runs alone
    pool = ProcessPoolExecutor(workers, mp_context=context, initializer=init_worker)
    try:
        while pending or suspects or running:
            while len(running) < workers and not any(alone for _, alone in running.values()):
                if suspects and not running:
                    job, alone = suspects.popleft(), True
                elif pending and not suspects:
                    job, alone = pending.popleft(), False
                else:
                    break
                running[pool.submit(convert_bag, job, config, settings, config_name)] = (job, alone)
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            broken = False
            for future in finished:
                job, alone = running.pop(future)
                try:
                    result = future.result()
                except BrokenProcessPool:
                    broken = True
                    if not alone:
                        suspects.append(job)
                        continue
                    result = BagResult(job.name, FAILED, size_in=job.size, errors=[
                        f"{job.path}: its worker process died converting it (killed, out of memory, or a crash)"])  # fmt: skip
                done(job, result)
            if broken:  # the pool's other bags ended with it
                suspects.extend(job for job, _ in running.values())
                running.clear()
                pool.shutdown(wait=True)
                pool = ProcessPoolExecutor(workers, mp_context=context, initializer=init_worker)
    except BaseException:
        _stop(pool)
        for job, _ in running.values():
            job.output.with_name(f".{job.output.name}.partial").unlink(missing_ok=True)
        raise
    pool.shutdown(wait=True)


def biggest_first(jobs: Sequence[BagJob]) -> list[BagJob]:
    """The order to hand bags out in: by size, the biggest first (ties in path order)."""
    return sorted(jobs, key=lambda job: -job.size)


def _stop(pool: ProcessPoolExecutor) -> None:
    """End the workers now (Ctrl-C): what they were writing stays a `.partial` file, not a recording."""
    processes = list(getattr(pool, "_processes", {}).values())  # the executor has no public way to end them
    for process in processes:
        process.terminate()
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        process.join(5)


def _token_hint() -> str:
    """Ray 2.59+ starts clusters with token authentication, but a client sends its token only when told to: a
    refused client sees just "Failed to connect" (the reason goes to stderr from Ray's C++ layer)."""
    if os.environ.get("RAY_AUTH_MODE"):
        return ""
    return ("; if the cluster uses token authentication (Ray 2.59 and later start clusters with it), set "
            "RAY_AUTH_MODE=token here, with the cluster's token in RAY_AUTH_TOKEN or the file `ray get-auth-token` reads")


def run_ray(jobs: Sequence[BagJob], address: str | None, memory_mb: int, config: Any, settings: str,
            config_name: str | None, done: Done) -> None:
    """Convert `jobs` as Ray tasks (one CPU and `memory_mb` each) on the cluster at `address` (None: Ray's own
    lookup: RAY_ADDRESS, else a cluster started on this machine). Paths must be ones every node sees."""
    try:
        import ray
    except ImportError:
        raise RayMissing("--ray needs Ray, which is not installed: pip install 'ros2_rerun_bridge[ray]' (or pip install ray)") from None
    started = not ray.is_initialized()
    if started:
        try:
            ray.init(address=address or "auto", log_to_driver=False, logging_level=logging.WARNING)
        except Exception as err:  # ConnectionError, an authentication error, no cluster found
            raise RayUnavailable(f"cannot connect to the Ray cluster at {address or 'RAY_ADDRESS or this machine'}: "
                                 f"{str(err).strip().splitlines()[-1] if str(err).strip() else type(err).__name__}"
                                 f"{_token_hint()}") from None  # fmt: skip
    task = ray.remote(num_cpus=1, memory=memory_mb * 1024 * 1024, max_retries=0)(convert_bag)
    refs = {task.remote(job, config, settings, config_name): job for job in biggest_first(jobs)}
    try:
        remaining = list(refs)
        while remaining:
            finished, remaining = ray.wait(remaining, num_returns=1)
            for ref in finished:
                job = refs[ref]
                try:
                    result = ray.get(ref)
                except ray.exceptions.RayError as err:  # the task's worker or node died
                    result = BagResult(job.name, FAILED, size_in=job.size, errors=[f"{job.path}: Ray task failed: {err}"])
                done(job, result)
    except BaseException:
        for ref in refs:
            ray.cancel(ref, force=True)
        raise
    finally:
        if started:
            ray.shutdown()
