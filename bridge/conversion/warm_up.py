"""One conversion of each kind on a tiny synthetic message, before the first real one.

rerun-sdk and pyarrow import much of themselves on first use (pyarrow's compute functions, and
pandas when it is installed: about 0.5 s in all). A live bridge would pay that inside its first
frames' conversion while its bounded queues drop the frames arriving meanwhile.
"""

from __future__ import annotations

from types import SimpleNamespace as Msg

import numpy as np

from .camera_info import pinhole_from_camera_info
from .compressed import convert_compressed_image
from .image import convert_image
from .transforms import transform_columns

# One black pixel, 8-bit grey: a whole PNG, as compressed pass-through checks every chunk's CRC.
_PNG_1x1 = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010800000000"
    "3a7e9b550000000a49444154789c636000000002000148afa4710000000049454e44ae426082"
)


def warm_up() -> None:
    """Convert one tiny message of each kind the bridge converts (the results are discarded)."""
    for encoding, data in (("rgb8", np.zeros(3, np.uint8)), ("16UC1", np.zeros(2, np.uint8))):
        convert_image(Msg(height=1, width=1, encoding=encoding, is_bigendian=0, step=len(data), data=data))
    convert_compressed_image(Msg(format="png", data=_PNG_1x1))
    roi = Msg(x_offset=0, y_offset=0, height=0, width=0, do_rectify=False)
    identity = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]
    camera_info = Msg(height=1, width=1, k=identity, p=identity[:3] + [0.0] + identity[3:6] + [0.0] + identity[6:] + [0.0],
                      binning_x=0, binning_y=0, roi=roi)  # fmt: skip
    pinhole_from_camera_info(camera_info, "warm_up")
    vector, rotation = Msg(x=0.0, y=0.0, z=0.0), Msg(x=0.0, y=0.0, z=0.0, w=1.0)
    header = Msg(frame_id="a", stamp=Msg(sec=0, nanosec=0))
    transform_columns([Msg(header=header, child_frame_id="b", transform=Msg(translation=vector, rotation=rotation))])
