"""The `convert` and `register` commands: their arguments, the run, the archive's progress bar and summary."""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from dataclasses import replace
from pathlib import Path

from .catalog import DEFAULT_DATASET

log = logging.getLogger("ros2_rerun_bridge")


def add_convert_arguments(command: argparse.ArgumentParser) -> None:
    from ..cli import _add_compression, _add_filters, _add_fleet
    from .run import DEFAULT_TASK_MEMORY_MB

    command.add_argument("inputs", nargs="*", type=Path, metavar="INPUT",
                         help="folders to search for bags, bag folders, .mcap/.db3 files")  # fmt: skip
    command.add_argument("-o", "--output", dest="out_dir", type=Path, required=True, metavar="OUT_DIR",
                         help="write each bag's recording as OUT_DIR/<its path under the inputs>.rrd")  # fmt: skip
    command.add_argument("-c", "--config", type=Path, help="YAML config: topics, entity paths, options (its sinks are not used)")
    _add_filters(command)
    _add_fleet(command)
    _add_compression(command)
    command.add_argument("--namespace-from-path", type=int, metavar="N",
                         help="each bag is one robot's, named by part N of its path under the inputs (robot1/2024-05-01/"
                              "run_3: 0 is robot1): its topics, which carry no namespace, at entity paths under /robot1, "
                              "its frames named robot1/frame (not with --namespace)")  # fmt: skip
    command.add_argument("-j", "--jobs", type=int, default=_cores(), metavar="N", help="worker processes")
    command.add_argument("--ray", nargs="?", const="auto", metavar="ADDRESS",
                         help="run one Ray task per bag on an existing Ray cluster instead (no value: RAY_ADDRESS, "
                              "else the cluster started on this machine); paths must be ones every node sees")  # fmt: skip
    command.add_argument("--task-memory", type=int, default=DEFAULT_TASK_MEMORY_MB, metavar="MB",
                         help="with --ray: the memory each task declares")  # fmt: skip
    command.add_argument("--register", metavar="URL",
                         help="then register the recordings into a dataset of the Rerun catalog at URL "
                              "(rerun+http://HOST:PORT, HOST:PORT or a PORT on 127.0.0.1)")  # fmt: skip
    command.add_argument("--dataset", default=DEFAULT_DATASET, help="with --register: the dataset (created when missing)")
    command.add_argument("--no-progress", action="store_true", help="no progress bar (it shows on a terminal)")


def add_register_arguments(command: argparse.ArgumentParser) -> None:
    command.add_argument("url", metavar="URL", help="the Rerun catalog: rerun+http://HOST:PORT, HOST:PORT or a PORT on 127.0.0.1")
    command.add_argument("recordings", nargs="+", metavar="RECORDING",
                         help=".rrd files, folders of them (searched), or URIs the server can read (s3://...)")  # fmt: skip
    command.add_argument("--dataset", default=DEFAULT_DATASET, help="the dataset (created when missing)")


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


# -- convert ---------------------------------------------------------------------------------------------


def run_convert(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from ..cli import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_USAGE, _config
    from ..config import catalog_url
    from .discover import DiscoveryError, config_hash, find_bags, namespace_from_path, read_stamp
    from .run import RayMissing, RayUnavailable, run_local, run_ray
    from .worker import CONVERTED, UP_TO_DATE, BagResult, bag_config

    if args.ray not in (None, "auto") and Path(args.ray).exists():  # `--ray BAGS -o OUT`: an input, not an address
        args.inputs.insert(0, Path(args.ray))
        args.ray = "auto"
    if not args.inputs:
        log.error("no INPUT given: folders to search for bags, bag folders, .mcap/.db3 files")
        return EXIT_USAGE
    if args.jobs < 1:
        log.error("--jobs %d: at least 1", args.jobs)
        return EXIT_USAGE
    if args.out_dir.exists() and not args.out_dir.is_dir():
        log.error("%s: not a folder (-o names the folder the recordings go to)", args.out_dir)
        return EXIT_USAGE
    config = _config(args)  # the config file (or the defaults) with --include/--exclude, checked as for replay
    register_url = catalog_url(args.register) if args.register else None  # likewise: before any bag
    by_path = args.namespace_from_path
    if by_path is not None and config.namespaces:
        log.error("--namespace-from-path: each bag is one robot's, whose topics carry no namespace; not with namespaces "
                  "(--namespace, the config's), which name the robots whose topics a bag holds")  # fmt: skip
        return EXIT_USAGE
    options = {"video": args.video, "depth_compression": args.depth_compression, "rectify": args.rectify,
               "low_latency": args.low_latency}
    settings = config_hash(args.config, args.include, args.exclude, _fleet(config, by_path),
                           {name: value for name, value in options.items() if value})  # fmt: skip
    try:
        jobs = find_bags(args.inputs, args.out_dir)
        if by_path is not None:
            jobs = [replace(job, namespace=namespace_from_path(job, by_path)) for job in jobs]
    except DiscoveryError as err:
        log.error("%s", err)
        return EXIT_USAGE
    if not jobs:
        log.error("no rosbag2 bag (a folder with metadata.yaml, a .mcap or .db3 file) under %s", " ".join(map(str, args.inputs)))
        return EXIT_FAILED
    bag_config(config, jobs[0])  # as every bag is converted: a ConfigError (exit 2) now rather than in every bag
    if config.videos:  # (checking imports rerun-sdk, which this process otherwise leaves to its workers)
        from ..streams.encoder import check_encoders

        check_encoders(config)  # likewise a video encoder that is missing (EncoderUnavailable, a ConfigError)
    out = args.out_dir.resolve()
    for job in jobs:
        if job.path.is_dir() and out.is_relative_to(job.path):
            log.error("%s: inside the bag %s; name an output folder outside it", args.out_dir, job.path)
            return EXIT_USAGE

    results: dict[str, BagResult] = {}
    todo = []
    for job in jobs:
        if (record := read_stamp(job, settings)) is not None:
            results[job.name] = BagResult(job.name, UP_TO_DATE, frames=record.get("frames", 0), size_in=job.size,
                                          size_out=job.output.stat().st_size, output=job.output)  # fmt: skip
        else:
            todo.append(job)
    show = sys.stderr.isatty() and not args.no_progress and args.verbosity >= 0
    bar = tqdm(total=sum(job.size for job in todo), unit="B", unit_scale=True, unit_divisor=1024, disable=not show,
               desc=f"0/{len(todo)} bags", smoothing=0.05)  # fmt: skip
    if len(todo) < len(jobs) and args.verbosity >= 0:
        bar.write(f"{len(jobs)} bags: {len(jobs) - len(todo)} up to date, {len(todo)} to convert", file=sys.stderr)

    def done(job, result) -> None:
        results[job.name] = result
        bar.update(job.size)
        bar.set_description(f"{len(results) - (len(jobs) - len(todo))}/{len(todo)} bags", refresh=True)
        if result.failed and show:  # on a terminal, as it happens; the list at the end has it for a log
            bar.write(f"ERROR: {_failure(result)}", file=sys.stderr)

    began = time.monotonic()
    config_name = str(args.config) if args.config else None
    interrupted = False
    try:
        if args.ray:
            run_ray(todo, None if args.ray == "auto" else args.ray, args.task_memory, config, settings, config_name, done)
        else:
            run_local(todo, min(args.jobs, max(len(todo), 1)), config, settings, config_name, done)
    except (RayMissing, RayUnavailable) as err:
        bar.close()
        log.error("%s", err)
        return EXIT_USAGE if isinstance(err, RayMissing) else EXIT_FAILED
    except KeyboardInterrupt:
        interrupted = True
    finally:
        bar.close()
    elapsed = time.monotonic() - began

    status = 0
    if results and args.verbosity >= 0:  # none: interrupted before any bag was converted
        print(summary_table([results[job.name] for job in jobs if job.name in results], elapsed))
    if args.verbosity >= 1:
        for job in jobs:
            for message in results[job.name].messages if job.name in results else ():
                print(f"{job.name}: {message}", file=sys.stderr)
    failures = [r for r in results.values() if r.failed]
    if failures:
        log.error("%d of %d bags failed:\n%s", len(failures), len(jobs),
                  "\n".join(f"  {_failure(r)}" for r in failures))  # fmt: skip
        status = EXIT_FAILED
    if interrupted:
        if results:
            log.warning("interrupted: %d bags not converted (run again to go on)", len(jobs) - len(results))
        else:
            log.warning("interrupted before any bag was converted (run again to go on)")
        return EXIT_INTERRUPTED
    if register_url:
        outputs = [r.output for job in jobs if (r := results[job.name]).status in (CONVERTED, UP_TO_DATE)]
        status = max(status, _register(register_url, args.dataset, outputs, args.verbosity))
    return status


def _failure(result) -> str:
    """A failed bag and why, as the run shows it live and lists it at the end."""
    return f"{result.name}: {'; '.join(result.errors) or result.status}"


def _fleet(config, by_path: int | None) -> dict | None:
    """How the robots are named, for the stamps; None without robots, so that the stamps of other runs stay valid."""
    if not config.namespaces and by_path is None:
        return None
    robots = {"namespaces": list(config.namespaces)} if by_path is None else {"namespace_from_path": by_path}
    return {**robots, "prefix_frames": config.prefix_frames, "shared_frames": sorted(config.shared_frames)}


def summary_table(results: list, elapsed: float) -> str:
    """One row per bag: frames, size in, size out, time, status; and the totals."""
    from collections import Counter

    rows = [(r.name, str(r.frames), _size(r.size_in), _size(r.size_out) if r.size_out else "-",
             f"{r.seconds:.1f} s" if r.seconds else "-", r.status) for r in results]  # fmt: skip
    header = ("bag", "frames", "in", "out", "time", "status")
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(w) if i in (0, 5) else cell.rjust(w) for i, (cell, w) in enumerate(zip(row, widths))).rstrip()
             for row in [header, *rows]]  # fmt: skip
    counts = Counter(r.status for r in results)
    lines.append(f"{len(results)} bags: " + ", ".join(f"{n} {status}" for status, n in counts.most_common())
                 + f"; {sum(r.frames for r in results)} frames, {_size(sum(r.size_in for r in results))} in, "
                 f"{_size(sum(r.size_out for r in results))} out, {elapsed:.1f} s")  # fmt: skip
    return "\n".join(lines)


def _size(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} TB"


# -- register --------------------------------------------------------------------------------------------


def run_register(args: argparse.Namespace) -> int:
    from ..cli import EXIT_USAGE
    from ..config import catalog_url

    url = catalog_url(args.url)  # a ConfigError (exit 2) for what is not a catalog's address
    recordings: list = []
    for item in args.recordings:
        path = Path(item)
        if "://" in item:
            recordings.append(item)
        elif path.is_dir():
            recordings.extend(sorted(p for p in path.rglob("*.rrd") if not any(part.startswith(".") for part in p.relative_to(path).parts)))
        elif path.is_file():
            recordings.append(path)
        else:
            log.error("%s: no such file or directory", item)
            return EXIT_USAGE
    if not recordings:
        log.error("no .rrd recording in %s", " ".join(args.recordings))
        return EXIT_USAGE
    return _register(url, args.dataset, recordings, args.verbosity)


def _register(url: str, dataset: str, recordings: list, verbosity: int) -> int:
    """Register the recordings that are ones in one batched call, after naming each that is not."""
    from ..cli import EXIT_FAILED
    from .catalog import CatalogError, recording_problem, register

    refused = {recording: problem for recording in recordings if (problem := recording_problem(recording))}
    for recording, problem in refused.items():
        log.error("%s: not registered: %s", recording, problem)
    try:
        outcome = register(url, dataset, [recording for recording in recordings if recording not in refused])
    except CatalogError as err:
        log.error("%s", err)
        return EXIT_FAILED
    failed = [r for r in outcome if r.error is not None]
    for r in failed:
        log.error("%s: not registered: %s", r.uri, r.error)
    if verbosity >= 0:
        print(f"registered {len(outcome) - len(failed)} of {len(recordings)} recordings into dataset {dataset!r} at {url}",
              file=sys.stderr)  # fmt: skip
    return EXIT_FAILED if failed or refused else 0
