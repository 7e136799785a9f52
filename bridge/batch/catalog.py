"""Registering recordings into a dataset of a Rerun catalog: the open-source `rerun server`, or Rerun's
hosted platform by the same API (`rerun.catalog.CatalogClient`).

Recordings are registered by URI, in one batched call: the server reads them itself, so a `file://` URI
must be a path the server sees (the same machine or a shared file system); a hosted catalog takes
object-store URIs (`s3://...`). Each recording's id is its segment id; the bridge's ids are deterministic,
so a bag converted again replaces its segment instead of adding another.

The server reads every file of a batch before it registers any, and refuses the whole batch for one file that
is not a recording; local files are read here first, as it reads them, so that the others still go in.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

DEFAULT_DATASET = "ros2_bags"
REGISTER_TIMEOUT_S = 600


class CatalogError(RuntimeError):
    """The catalog cannot be reached, or refused the dataset; the text says which and why."""


@dataclass(frozen=True)
class Registered:
    uri: str
    segment_id: str
    error: str | None


def recording_uri(path: Path | str) -> str:
    """A local recording as a `file://` URI; anything with a scheme (s3://, gs://, file://) as it is."""
    text = str(path)
    return text if "://" in text else Path(text).resolve().as_uri()


def recording_problem(recording: Path | str) -> str | None:
    """Why the catalog server would refuse a local recording file, read as it reads one (the stores its footer
    lists, or a scan of a file without one: cut short, or written by an old rerun-sdk); None for a recording, and
    for a URI (s3://...), which only the server can read."""
    from rerun.chunk import RrdReader

    if "://" in str(recording):
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "no footer/manifest": the whole-file scan the server does too
            recordings = RrdReader(recording).recordings()
    except (ValueError, RuntimeError, OSError) as err:
        problem = str(err).removeprefix(f"Failed to read RRD file at {recording}: ")
        return f"not a Rerun recording ({problem})"
    return None if recordings else "holds no recording (a blueprint, or nothing)"


def register(url: str, dataset_name: str, recordings: Sequence[Path | str],
             timeout_s: int = REGISTER_TIMEOUT_S) -> list[Registered]:
    """Register `recordings` into `dataset_name` (created when missing, and not for no recordings) at the catalog
    `url`, replacing the segments that have their recording ids; the outcome for each."""
    import rerun as rr
    from rerun.catalog import NotFoundError, OnDuplicateSegmentLayer

    uris = [recording_uri(path) for path in recordings]
    if not uris:
        return []
    try:
        client = rr.catalog.CatalogClient(url)
        dataset = client.create_dataset(dataset_name, exist_ok=True)
        operation = dataset.register(uris, on_duplicate=OnDuplicateSegmentLayer.REPLACE)
        return [Registered(r.uri, r.segment_id, r.error) for r in operation.iter_results(timeout_secs=timeout_s)]
    except (ConnectionError, TimeoutError, ValueError, RuntimeError, NotFoundError) as err:  # NotFound: a file it cannot see
        # rerun-sdk's first line is the problem; then the server, endpoint, trace id and gRPC metadata
        problem = str(err).strip().split("\n", 1)[0]
        raise CatalogError(f"catalog {url}, dataset {dataset_name}: {problem}") from None
