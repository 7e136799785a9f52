"""The socket receive buffer raw camera frames need, and Linux's cap on it (net.core.rmem_max).

A best-effort sample is lost whole when one of its UDP fragments does not fit the socket's buffer:
a 720p rgb8 frame is 2.7 MB of fragments, and Linux allows 4 MiB by default (its default buffer
is 208 KiB). Every DDS implementation asks for its buffer; the kernel caps what it gets.
"""

from __future__ import annotations

from pathlib import Path

RECEIVE_BUFFER_BYTES = 32 * 1024 * 1024  # a few raw frames (1080p rgb8: 6 MB) in flight on the socket
RMEM_MAX = Path("/proc/sys/net/core/rmem_max")


def kernel_receive_buffer_max() -> int | None:
    """Linux's cap on a socket's receive buffer (net.core.rmem_max); None where it cannot be read."""
    try:
        return int(RMEM_MAX.read_text())
    except (OSError, ValueError):
        return None


def capped_receive_buffer_warning() -> str | None:
    """What to do when the kernel caps the receive buffer below what raw frames need; None when it does not."""
    rmem_max = kernel_receive_buffer_max()
    if rmem_max is None or rmem_max >= RECEIVE_BUFFER_BYTES:
        return None
    return (
        f"net.core.rmem_max is {rmem_max // 1024} KiB: raw camera frames may be lost in UDP; raise it with "
        f"`sudo sysctl -w net.core.rmem_max={RECEIVE_BUFFER_BYTES}` (see the README)"
    )
