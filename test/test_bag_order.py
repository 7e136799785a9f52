"""Messages come out of a bag in log-time order, however the recorder laid them out in its MCAP chunks.

An MCAP file's chunks written one after the other in time are read in file order, each chunk's messages
sorted; chunks whose times overlap are merged. Both are checked on real bags written with rosbags.
"""

from __future__ import annotations

from itertools import pairwise

import numpy as np
import pytest
from recordings import TYPESTORE, image_msg, write_bag
from rosbags.rosbag2.storage_mcap import McapReader

from bridge.sources.bag import Bag

T0 = 1_700_000_000_000_000_000


def camera(log_times: list[int], size: tuple[int, int]) -> list[tuple[str, object, int]]:
    """Images whose pixels say their log time, written in the order of `log_times`."""
    return [("/cam", image_msg(np.full((*size, 3), i % 251, np.uint8), "rgb8", T0 + t), T0 + t)
            for i, t in enumerate(log_times)]  # fmt: skip


def read(folder) -> list[tuple[int, bytes]]:
    with Bag(folder) as bag:
        return [(m.log_time_ns, bytes(m.raw)) for m in bag.messages({"/cam"})]


def expected(messages: list[tuple[str, object, int]]) -> list[tuple[int, bytes]]:
    written = [(ns, bytes(TYPESTORE.serialize_cdr(msg, msg.__msgtype__))) for _, msg, ns in messages]
    return sorted(written, key=lambda m: m[0])  # stable: messages of one time in the order written


def chunk_times(folder) -> list[tuple[int, int]]:
    reader = McapReader(next(folder.glob("*.mcap")))
    reader.open()
    try:
        return [(c.message_start_time, c.message_end_time) for c in reader.chunks]
    finally:
        reader.close()


def test_messages_out_of_order_within_a_chunk_come_sorted(tmp_path):
    messages = camera([5, 3, 9, 3, 0, 7, 1, 8, 2, 6, 4], (8, 8))  # one chunk; two at time 3
    folder = write_bag(tmp_path / "bag", messages)
    assert len(chunk_times(folder)) == 1
    assert read(folder) == expected(messages)


@pytest.mark.parametrize("interleaved", [False, True])
def test_chunks_in_time_order_or_overlapping_come_merged(tmp_path, interleaved):
    """300 kB frames: a few to one of rosbags' 1 MiB chunks. Interleaved: every chunk spans all the others' times."""
    times = list(range(0, 40, 2)) + list(range(1, 40, 2)) if interleaved else list(range(40))
    messages = camera(times, (320, 320))
    folder = write_bag(tmp_path / "bag", messages)
    spans = chunk_times(folder)
    assert len(spans) > 4
    overlapping = any(a[1] > b[0] for a, b in pairwise(spans))
    assert overlapping == interleaved
    assert read(folder) == expected(messages)


def test_start_and_end_select_by_log_time_across_chunks(tmp_path):
    messages = camera(list(range(40)), (320, 320))
    folder = write_bag(tmp_path / "bag", messages)
    with Bag(folder) as bag:
        got = [m.log_time_ns - T0 for m in bag.messages({"/cam"}, T0 + 7, T0 + 31)]
    assert got == list(range(7, 31))
