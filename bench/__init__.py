"""Benchmarks of ros2_rerun_bridge against Rerun's own MCAP importer, a naive script and the disk.

Run them all with `python -m bench.run` (see `bench/run.py`); the results go to
`docs/benchmarks.md`.
"""
