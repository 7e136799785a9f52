"""Stateful per-stream stages, between the pure conversions and the sinks: one object per camera stream.

What a conversion cannot know from one message lives here, keyed by topic and held by the `Bridge`:
a video stream's codec (logged once per entity), whether its first keyframe has come, whether its
B-frames were warned about, and the encoder that turns its frames into video. Each object is used by
one topic's thread at a time (live queues have one worker per topic), and closed with the bridge.
"""

from .encoder import EncoderUnavailable, check_encoders
from .video import Row, VideoStream

__all__ = ["EncoderUnavailable", "Row", "VideoStream", "check_encoders"]
