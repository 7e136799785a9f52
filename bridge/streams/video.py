"""`VideoStream`: one topic's encoded video on its way to Rerun's `VideoStream` archetype."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, Callable, Mapping

import numpy as np
import rerun as rr

from ..conversion import ConversionError
from ..conversion.archetypes import blob
from ..conversion.image import RawFrame
from ..conversion.options import VideoOptions
from ..conversion.video import VideoCodec, VideoSample
from .encoder import VideoEncoder

Times = Mapping[str, int]


@dataclass(frozen=True)
class Row:
    """One row to log on the stream's entity; `times` None: static."""

    archetype: Any
    times: Times | None


class VideoStream:
    """A camera topic's video: passed through as it comes, or encoded here from its frames.

    Rerun takes one codec per entity, logged once (static); a decoder can only start at a keyframe,
    so samples before the first one are skipped (counted by the caller as skipped, and said once);
    B-frames cannot be shown in order (rerun#10090) and are said once; a codec that changes
    mid-stream would break the entity's decoder, and its samples are refused.
    """

    def __init__(self, warn: Callable[[str], None], encoding: VideoOptions | None = None):
        self._warn = warn
        self._encoder = VideoEncoder(encoding) if encoding is not None else None
        self._codec: VideoCodec | None = None
        self._b_frames_seen = False
        self._lock = threading.Lock()  # `flush` may come from another thread than the topic's worker

    def pass_through(self, sample: VideoSample, times: Times) -> list[Row]:
        """The rows of one received sample; none while the stream waits for its first keyframe."""
        with self._lock:
            return self._rows(sample, times)

    def encode(self, frame: RawFrame, times: Times) -> list[Row]:
        """Encode one frame; the rows of the samples the encoder gives back (it may hold a few frames)."""
        assert self._encoder is not None, "encode on a stream without video options"
        with self._lock:
            return [row for sample, at in self._encoder.encode(frame, times) for row in self._rows(sample, at)]

    def flush(self) -> list[Row]:
        """The rows of the frames an encoder still holds; the stream ends."""
        with self._lock:
            if self._encoder is None:
                return []
            return [row for sample, at in self._encoder.flush() for row in self._rows(sample, at)]

    def _rows(self, sample: VideoSample, times: Times) -> list[Row]:
        rows = []
        if self._codec is None:
            if not sample.keyframe:
                self._warn("video starts without a keyframe: samples before the first keyframe are skipped")
                return []
            self._codec = sample.codec
            rows.append(Row(rr.VideoStream(codec=sample.codec.rerun), None))
        elif sample.codec is not self._codec:
            raise ConversionError(f"video codec changed from {self._codec.value} to {sample.codec.value} mid-stream: "
                                  "sample skipped (an entity plays one codec)")  # fmt: skip
        if sample.b_frame and not self._b_frames_seen:
            self._b_frames_seen = True
            self._warn("video has B-frames, which Rerun cannot show in order (rerun#10090): configure the encoder "
                       "without them (x264: bframes=0)")  # fmt: skip
        rows.append(Row(rr.VideoStream.from_fields(sample=blob(np.frombuffer(sample.data, np.uint8)), is_keyframe=sample.keyframe), times))
        return rows
