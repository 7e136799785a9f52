"""Finding the rosbag2 bags under the inputs of `convert`, and what makes each one's output up to date.

A bag is
- a folder with a `metadata.yaml` (one or several storage files: a split bag), not searched further;
- a folder without one whose storage files are named as rosbag2 names them, `FOLDER_N.mcap`/`.db3`
  (a recorder that was killed before writing its metadata);
- any other `.mcap` or `.db3` file: a loose bag of its own.

Each bag's output is `OUT_DIR/<its path relative to the inputs' root>.rrd`: a folder `site/run_1` becomes
`site/run_1.rrd`, a loose file `site/drive.mcap` becomes `site/drive.mcap.rrd` (so `drive.mcap`, `drive.db3`
and a folder `drive` beside them never share an output). The root is the one input folder that is not a
bag, else the folder holding the inputs, else their common folder.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import re
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from .. import __version__
from ..conversion.namespaces import namespace

log = logging.getLogger("ros2_rerun_bridge")

STORAGE_SUFFIXES = (".mcap", ".db3")
# The namespace of the recording ids: uuid5(RECORDING_NAMESPACE, the bag's identity).
RECORDING_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://github.com/ros2_rerun_bridge/recordings")


@dataclass(frozen=True)
class InputFile:
    name: str  # relative to the bag (a folder), or the file's own name (a loose bag)
    size: int
    mtime_ns: int


@dataclass(frozen=True)
class BagJob:
    """One bag to convert: where it is, where its recording goes, and what it was made of when found."""

    path: Path  # absolute
    name: str  # its path relative to the inputs' root, with '/'
    output: Path  # absolute: OUT_DIR/name.rrd
    files: tuple[InputFile, ...]
    namespace: str = ""  # the robot's whose bag it is, from its path (`convert --namespace-from-path`)

    @property
    def size(self) -> int:
        return sum(f.size for f in self.files)

    @property
    def recording_id(self) -> str:
        """Deterministic: the same bag converted again replaces its recording (in a viewer, in a catalog).

        From the bag's path relative to the inputs' root and the names of its storage files, not their
        contents or times: a bag that was touched or re-indexed keeps its id.
        """
        storage = ",".join(sorted(f.name for f in self.files if f.name.endswith(STORAGE_SUFFIXES)))
        return str(uuid.uuid5(RECORDING_NAMESPACE, f"{self.name}\n{storage}"))

    @property
    def stamp_path(self) -> Path:
        """The sidecar that says what the output was made from: `.NAME.rrd.json` beside it."""
        return self.output.with_name(f".{self.output.name}.json")


class DiscoveryError(ValueError):
    """An input that does not exist or holds no bag; the text names it."""


def find_bags(inputs: Sequence[Path], out_dir: Path) -> list[BagJob]:
    """Every bag under `inputs`, once each, in path order; `out_dir` is never searched."""
    if not inputs:
        raise DiscoveryError("no input given")
    resolved = []
    for path in inputs:
        if not path.exists():
            raise DiscoveryError(f"{path}: no such file or directory")
        resolved.append(path.resolve())
    out = out_dir.resolve()
    root = _root(resolved)
    bags: dict[Path, None] = {}
    for path in resolved:
        for bag in _bags_under(path, out):
            bags.setdefault(bag)
    jobs = []
    for bag in sorted(bags):
        name = bag.relative_to(root).as_posix() if bag != root else bag.name
        jobs.append(BagJob(bag, name, out / f"{name}.rrd", tuple(_input_files(bag))))
    return jobs


def namespace_from_path(job: BagJob, index: int) -> str:
    """The robot's namespace of a bag in an archive laid out by robot: part `index` of its path under the
    inputs (`robot1/2024-05-01/run_3`: 0 gives /robot1, -1 would be the bag itself), as a ROS namespace."""
    parts = job.name.split("/")
    if not -len(parts) <= index < len(parts):
        raise DiscoveryError(f"{job.path}: --namespace-from-path {index}: its path under the inputs, {job.name}, "
                             f"has no part {index}")  # fmt: skip
    try:
        return namespace(parts[index])
    except ValueError as err:
        raise DiscoveryError(f"{job.path}: --namespace-from-path {index}: {parts[index]!r} is {err}") from None


def _root(inputs: list[Path]) -> Path:
    if len(inputs) == 1:
        only = inputs[0]
        return only if only.is_dir() and not _is_bag_folder(only) else only.parent
    return Path(os.path.commonpath(inputs))


def _bags_under(path: Path, out: Path) -> Iterable[Path]:
    if path.is_file():
        if path.suffix in STORAGE_SUFFIXES:
            yield path.parent if (path.parent / "metadata.yaml").is_file() else path
        return
    for folder, dirs, files in os.walk(path):  # symbolic links to folders are not followed: no loops
        here = Path(folder)
        if here == out or (here != path and here.name.startswith(".")):
            dirs[:] = []
            continue
        if _is_bag_folder(here, files):
            dirs[:] = []
            yield here
            continue
        dirs.sort()
        for file in sorted(files):
            if file.endswith(STORAGE_SUFFIXES) and not file.startswith("."):
                if (here / file).is_file():
                    yield here / file
                else:  # a broken link, a pipe: nothing to read a bag from
                    log.warning("%s: not a regular file (a broken link, a pipe or a device): skipped", here / file)


def _is_bag_folder(folder: Path, files: Iterable[str] | None = None) -> bool:
    names = set(os.listdir(folder)) if files is None else set(files)
    if "metadata.yaml" in names:
        return True
    split = re.compile(re.escape(folder.name) + r"_\d+(\.mcap|\.db3)")
    return any(split.fullmatch(name) for name in names)


def _input_files(bag: Path) -> Iterable[InputFile]:
    if bag.is_file():
        stat = bag.stat()
        yield InputFile(bag.name, stat.st_size, stat.st_mtime_ns)
        return
    for entry in sorted(os.scandir(bag), key=lambda e: e.name):
        if entry.is_file():
            stat = entry.stat()
            yield InputFile(entry.name, stat.st_size, stat.st_mtime_ns)


# -- the stamp: what an output was made from -----------------------------------------------------------


def config_hash(config_file: Path | None, include: Sequence[str] = (), exclude: Sequence[str] = (),
                fleet: Mapping[str, Any] | None = None, options: Mapping[str, Any] | None = None) -> str:
    """The conversion's settings: the config file's bytes (none: the defaults), the topic filters, for a fleet how
    its robots are named (as the command line or the file gives it), and the command line's conversion options
    (`--video`, `--depth-compression`, `--rectify`). Settings left unset leave the hash of runs before them."""
    text = config_file.read_bytes().hex() if config_file is not None else None
    extra = {"fleet": dict(fleet)} if fleet else {}
    extra |= {"options": dict(options)} if options else {}
    settings = json.dumps({"config": text, "include": list(include), "exclude": list(exclude), **extra}, sort_keys=True)
    return hashlib.sha256(settings.encode()).hexdigest()[:16]


@functools.cache
def bridge_revision() -> str:
    """The bridge's version and a digest of its source: a bridge changed under the same version number (installed
    from git, edited in place) converts again rather than calling outputs of its predecessor up to date."""
    package = Path(__file__).resolve().parents[1]
    digest = hashlib.sha256()
    for path in sorted(p for p in package.rglob("*") if p.suffix in (".py", ".msg") and "__pycache__" not in p.parts):
        digest.update(path.relative_to(package).as_posix().encode() + b"\0" + path.read_bytes())
    return f"{__version__}+{digest.hexdigest()[:12]}"


def stamp(job: BagJob, settings: str) -> dict:
    """What the output of `job` depends on: the bag's files (sizes, times), the settings, the bridge's revision."""
    return {
        "bag": job.name,
        "recording_id": job.recording_id,
        "inputs": [[f.name, f.size, f.mtime_ns] for f in job.files],
        "config_hash": settings,
        "bridge_version": bridge_revision(),
    }


def write_stamp(job: BagJob, settings: str, details: dict) -> None:
    """Record that `job.output`, as it is now, was made from the bag as found; written atomically."""
    stat = job.output.stat()
    record = {**stamp(job, settings), "output": {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns}, **details}
    partial = job.stamp_path.with_name(job.stamp_path.name + ".partial")
    partial.write_text(json.dumps(record, indent=1) + "\n")
    os.replace(partial, job.stamp_path)


def read_stamp(job: BagJob, settings: str) -> dict | None:
    """The stamp of `job`'s output when the output is up to date (made from the same bag, settings, version)."""
    try:
        record = json.loads(job.stamp_path.read_text())
        stat = job.output.stat()
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict) or any(record.get(k) != v for k, v in stamp(job, settings).items()):
        return None
    if record.get("output") != {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns}:
        return None  # the recording was replaced or changed since
    return record
