"""Reading `.rrd` recordings back through Rerun itself, and writing real rosbag2 bags, for the tests."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Iterable, Iterator, Sequence

import numpy as np
import pyarrow as pa
import rerun as rr
from rerun.chunk import RrdReader
from rosbags.rosbag2 import StoragePlugin, Writer
from rosbags.typesys import Stores, get_typestore

TYPESTORE = get_typestore(Stores.ROS2_HUMBLE)
T = TYPESTORE.types


def read_recording(path: str | Path, index: str = "ros2_timestamp") -> pa.Table:
    """Every row of the recording on timeline `index`, via a Rerun server and its catalog reader."""
    with rr.server.Server(datasets={"d": [str(path)]}) as server:
        dataset = server.client().get_dataset("d")
        return dataset.reader(index=index).to_arrow_table()


def read_entities(path: str | Path, entities: str | Sequence[str], index: str = "ros2_timestamp") -> pa.Table:
    """The rows `read_recording` gives, of `entities` (entity path expressions) only, for large recordings.

    Read with rerun-sdk's chunk reader, which filters while the file streams, so that the entities left out
    are never held: a server holds the whole recording (a 250 MB one cost the test process 1.1 GB, which
    rerun-sdk's allocator then kept). test_recordings checks that both give the same rows.
    """
    return RrdReader(path).stream().filter(content=entities).collect().reader(index=index).to_arrow_table()


def rows(path: str | Path, name: str, index: str = "ros2_timestamp") -> Iterator[tuple[int, pa.ListScalar]]:
    """(time on `index` in ns, cell) of each temporal row (static ones have no time) that holds column
    `ENTITY:Archetype:field`, in file order.

    One chunk of the file in memory at a time: for recordings of many large frames, checked frame by frame.
    """
    entity, component = name.split(":", 1)
    for chunk in RrdReader(path).stream().filter(content=entity, has_timeline=index, components=component):
        batch = chunk.to_record_batch()
        cells = batch.column(component)
        for time, cell in zip(batch.column(index).cast(pa.int64()).to_pylist(), cells):
            if cell.is_valid:
                yield time, cell


def column(table: pa.Table, name: str) -> list:
    """The non-null cells of column `ENTITY:Archetype:field`, in timeline order."""
    assert name in table.column_names, f"{name} not among {sorted(table.column_names)}"
    return [cell for cell in table.column(name).to_pylist() if cell is not None]


def stamp(ns: int):
    return T["builtin_interfaces/msg/Time"](sec=ns // 1_000_000_000, nanosec=ns % 1_000_000_000)


def header(ns: int, frame_id: str = "camera_optical_frame"):
    return T["std_msgs/msg/Header"](stamp=stamp(ns), frame_id=frame_id)


def image_msg(pixels: np.ndarray, encoding: str, ns: int = 0, frame_id: str = "camera_optical_frame",
              step: int | None = None, big_endian: bool = False, width: int | None = None, height: int | None = None):
    """An Image whose rows are `pixels` rows as bytes, padded to `step`."""
    data = pixels.astype(pixels.dtype.newbyteorder(">" if big_endian else "<"))
    rows = data.reshape(pixels.shape[0], -1).view(np.uint8)
    row_bytes = rows.shape[1]
    step = row_bytes if step is None else step
    padded = np.zeros((rows.shape[0], step), np.uint8)
    padded[:, :row_bytes] = rows
    return T["sensor_msgs/msg/Image"](
        header=header(ns, frame_id), height=height if height is not None else pixels.shape[0],
        width=width if width is not None else pixels.shape[1], encoding=encoding,
        is_bigendian=int(big_endian), step=step, data=padded.ravel(),
    )  # fmt: skip


def compressed_msg(data: bytes, fmt: str, ns: int = 0, frame_id: str = "camera_optical_frame"):
    return T["sensor_msgs/msg/CompressedImage"](
        header=header(ns, frame_id), format=fmt, data=np.frombuffer(data, np.uint8)
    )


def camera_info_msg(k, width: int, height: int, ns: int = 0, frame_id: str = "camera_optical_frame", p=None,
                    binning=(0, 0), roi=(0, 0, 0, 0)):
    k = np.asarray(k, np.float64).reshape(9)
    p = np.asarray(p, np.float64).reshape(12) if p is not None else np.concatenate([k.reshape(3, 3), np.zeros((3, 1))], 1).ravel()
    return T["sensor_msgs/msg/CameraInfo"](
        header=header(ns, frame_id), height=height, width=width, distortion_model="plumb_bob",
        d=np.zeros(5), k=k, r=np.eye(3).ravel(), p=p, binning_x=binning[0], binning_y=binning[1],
        roi=T["sensor_msgs/msg/RegionOfInterest"](x_offset=roi[0], y_offset=roi[1], width=roi[2], height=roi[3],
                                                  do_rectify=False),
    )  # fmt: skip


def tf_msg(transforms: Iterable[tuple[str, str, tuple, tuple]], ns: int = 0):
    """(parent, child, (x, y, z), (qx, qy, qz, qw)) each."""
    return T["tf2_msgs/msg/TFMessage"](transforms=[
        T["geometry_msgs/msg/TransformStamped"](
            header=header(ns, parent), child_frame_id=child,
            transform=T["geometry_msgs/msg/Transform"](
                translation=T["geometry_msgs/msg/Vector3"](x=t[0], y=t[1], z=t[2]),
                rotation=T["geometry_msgs/msg/Quaternion"](x=q[0], y=q[1], z=q[2], w=q[3]),
            ),
        )
        for parent, child, t, q in transforms
    ])  # fmt: skip


def write_bag(path: Path, messages: Iterable[tuple[str, object, int]], storage: str = "mcap") -> Path:
    """A real rosbag2 bag of (topic, message, log time ns); returns the folder."""
    plugin = StoragePlugin.MCAP if storage == "mcap" else StoragePlugin.SQLITE3
    connections: dict[str, object] = {}
    with Writer(path, version=8, storage_plugin=plugin) as writer:
        for topic, msg, ns in messages:
            msgtype = msg.__msgtype__
            if topic not in connections:
                connections[topic] = writer.add_connection(topic, msgtype, typestore=TYPESTORE)
            writer.write(connections[topic], ns, TYPESTORE.serialize_cdr(msg, msgtype))
    return path


def last_chunk_rows(path: str | Path, entity: str) -> int:
    """Rows in the last chunk of `entity` in the file.

    The catalog reader shows static data as one (the latest) row; static transforms are one chunk of a
    row per transform, which `rerun rrd print` counts.
    """
    rerun = Path(sys.executable).with_name("rerun")
    printed = subprocess.run([str(rerun), "rrd", "print", str(path)], capture_output=True, text=True, check=True).stdout
    return int(re.findall(rf"with (\d+) rows .* - {re.escape(entity)} - ", printed)[-1])
