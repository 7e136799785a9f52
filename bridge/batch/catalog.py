"""Registering recordings into a dataset of a Rerun catalog: the open-source `rerun server`, or Rerun's
hosted platform by the same API (`rerun.catalog.CatalogClient`).

Recordings are registered by URI, in one batched call: the server reads them itself, so a `file://` URI
must be a path the server sees (the same machine or a shared file system); a hosted catalog takes
object-store URIs (`s3://...`). Each recording's id is its segment id; the bridge's ids are deterministic,
so a bag converted again replaces its segment instead of adding another.
"""

from __future__ import annotations

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


def register(url: str, dataset_name: str, recordings: Sequence[Path | str],
             timeout_s: int = REGISTER_TIMEOUT_S) -> list[Registered]:
    """Register `recordings` into `dataset_name` (created when missing) at the catalog `url`, replacing the
    segments that have their recording ids; the outcome for each."""
    import rerun as rr
    from rerun.catalog import OnDuplicateSegmentLayer

    uris = [recording_uri(path) for path in recordings]
    if not uris:
        return []
    try:
        client = rr.catalog.CatalogClient(url)
        dataset = client.create_dataset(dataset_name, exist_ok=True)
        operation = dataset.register(uris, on_duplicate=OnDuplicateSegmentLayer.REPLACE)
        return [Registered(r.uri, r.segment_id, r.error) for r in operation.iter_results(timeout_secs=timeout_s)]
    except (ConnectionError, TimeoutError, ValueError, RuntimeError) as err:
        raise CatalogError(f"catalog {url}, dataset {dataset_name}: {err}") from None
