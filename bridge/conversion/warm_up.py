"""One conversion of each kind on a tiny synthetic message, before the first real one.

rerun-sdk and pyarrow import much of themselves on first use (pyarrow's compute functions, and
pandas when it is installed: about 0.5 s in all). A live bridge would pay that inside its first
frames' conversion while its bounded queues drop the frames arriving meanwhile.
"""

from __future__ import annotations

import struct
import zlib
from types import SimpleNamespace as Msg

import numpy as np

from .camera_info import pinhole_from_camera_info
from .compressed import convert_compressed_image
from .image import convert_image
from .transforms import transform_batch



def _png_1x1() -> bytes:
    """A valid 1x1 8-bit grey PNG (compressed pass-through checks the structure and CRCs)."""

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\x00\x00")) + chunk(b"IEND", b"")


def warm_up() -> None:
    """Convert one tiny message of each kind the bridge converts (the results are discarded)."""
    for encoding, data in (("rgb8", np.zeros(3, np.uint8)), ("16UC1", np.zeros(2, np.uint8))):
        convert_image(Msg(height=1, width=1, encoding=encoding, is_bigendian=0, step=len(data), data=data))
    convert_compressed_image(Msg(format="png", data=_png_1x1()))
    roi = Msg(x_offset=0, y_offset=0, height=0, width=0, do_rectify=False)
    identity = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]
    camera_info = Msg(height=1, width=1, k=identity, p=identity[:3] + [0.0] + identity[3:6] + [0.0] + identity[6:] + [0.0],
                      binning_x=0, binning_y=0, roi=roi)  # fmt: skip
    pinhole_from_camera_info(camera_info, "warm_up")
    vector, rotation = Msg(x=0.0, y=0.0, z=0.0), Msg(x=0.0, y=0.0, z=0.0, w=1.0)
    header = Msg(frame_id="a", stamp=Msg(sec=0, nanosec=0))
    transform_batch([Msg(header=header, child_frame_id="b", transform=Msg(translation=vector, rotation=rotation))])
