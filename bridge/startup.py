"""Start-up and exit costs of the command line, cut where libraries pay for what the bridge never uses.

- pyarrow imports pandas (0.3-0.7 s) on its first `pa.array()` of a Python list, only to check whether
  the list is a pandas object; rerun-sdk makes such calls for Pinholes, transforms and blueprints. The
  bridge never hands pyarrow a pandas object, so the command line lets pyarrow find no pandas.
- The interpreter's last garbage collections walk every object the imports made (rerun-sdk, pyarrow,
  rosbags: about 0.4 s). Frozen objects are not walked.

This reaches below pyarrow's public API (its pandas shim remembers its first import attempt): it lives
here alone, only the command line calls it, and test/test_startup.py fails when a pyarrow upgrade
changes what it relies on. Without it, everything works as before, only slower to start.
"""

from __future__ import annotations

import gc
import importlib.abc
import sys
from typing import Any


class _NoPandas(importlib.abc.MetaPathFinder):
    def find_spec(self, name: str, path: Any = None, target: Any = None) -> None:
        if name.split(".")[0] == "pandas":
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)


def keep_pandas_out_of_pyarrow() -> None:
    """Let pyarrow settle that pandas is missing: its shim tries the import once, on the first array."""
    if "pandas" in sys.modules:  # already imported by someone: nothing to save
        return
    import pyarrow as pa

    finder = _NoPandas()
    sys.meta_path.insert(0, finder)
    try:
        pa.array([0])
    finally:
        sys.meta_path.remove(finder)


def freeze_objects() -> None:
    """Exclude every object alive now from later garbage collections (they live until exit anyway)."""
    gc.collect()
    gc.freeze()
