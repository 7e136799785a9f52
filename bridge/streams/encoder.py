"""`VideoEncoder`: one topic's frames into H.264, H.265 or AV1 samples with PyAV (FFmpeg), as Rerun plays them.

PyAV (`pip install 'ros2_rerun_bridge[video]'`, or `pip install av`) is needed only to encode: its
wheels bundle FFmpeg with libx264, libx265 and SVT-AV1. Samples come out one per frame, in Annex B
(H.264/H.265, parameter sets with every keyframe) or OBUs (AV1), without B-frames, a keyframe first
and at least every `gop` frames. Encoders hold a few frames (lookahead, threads): each sample gets the
times of the frame it encodes, matched by its presentation timestamp.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Mapping

from ..config import BridgeConfig, ConfigError
from ..conversion import ConversionError
from ..conversion.image import RawFrame
from ..conversion.options import VideoOptions
from ..conversion.video import VideoCodec, VideoSample

Times = Mapping[str, int]
TIME_BASE = Fraction(1, 30)  # frames are numbered; the rate only steers the encoder's rate control


class EncoderUnavailable(ConfigError):
    """Video encoding was asked for, and PyAV or the encoder is not installed: a usage error, found at start."""


@dataclass(frozen=True)
class _Software:
    encoder: str
    quality: int  # CRF
    preset: str
    options: Mapping[str, str]  # fixed
    low_latency: Mapping[str, str]  # over `options`, with VideoOptions.low_latency: no lookahead


SOFTWARE = {
    # tune=psnr: fidelity to the source over perceived sharpness (robot images are measured, not only watched);
    # with CRF 18 and preset faster, >= 38 dB PSNR on every frame of the demo
    VideoCodec.H264: _Software("libx264", 18, "faster", {"tune": "psnr"}, {"tune": "psnr,zerolatency"}),
    VideoCodec.H265: _Software("libx265", 28, "veryfast", {"x265-params": "log-level=error"}, {"tune": "zerolatency"}),
    VideoCodec.AV1: _Software("libsvtav1", 35, "10", {"svtav1-params": "pred-struct=1"}, {}),  # low delay: no reordering
}


def check_encoders(config: BridgeConfig) -> None:
    """Raise EncoderUnavailable unless every encoder the config asks for is there (before any sink is opened)."""
    for options in config.videos:
        check_encoder(options)


def check_encoder(options: VideoOptions) -> None:
    """Raise EncoderUnavailable unless PyAV and the encoder `options` ask for are there."""
    try:
        import av
    except ImportError:
        raise EncoderUnavailable(
            "video encoding needs PyAV: pip install 'ros2_rerun_bridge[video]' (or: pip install av)"
        ) from None
    name = options.encoder or SOFTWARE[VideoCodec(options.codec)].encoder
    try:
        av.codec.Codec(name, "w")
    except av.codec.codec.UnknownCodecError:
        raise EncoderUnavailable(f"FFmpeg (PyAV {av.__version__}) has no encoder {name!r}") from None


class VideoEncoder:
    """Encodes one stream's frames; opened on the first frame, whose size the stream then keeps."""

    def __init__(self, options: VideoOptions):
        self.options = options
        self.codec = VideoCodec(options.codec)
        self._context: Any = None  # av.VideoCodecContext, once the first frame gives the size
        self._size: tuple[int, int] | None = None
        self._pending: dict[int, Times] = {}  # frame number -> its times, until its sample comes out
        self._frames = 0

    def encode(self, frame: RawFrame, times: Times) -> list[tuple[VideoSample, Times]]:
        import av

        width, height = frame.size
        if self._size is None:
            self._open(width, height)
        elif (width, height) != self._size:
            raise ConversionError(f"frame size changed from {self._size[0]}x{self._size[1]} to {width}x{height}: "
                                  "skipped (a video keeps its size)")  # fmt: skip
        # To 4:2:0 by area averaging: 0.4 dB closer to the source than FFmpeg's default (bilinear) on the demo.
        picture = av.VideoFrame.from_ndarray(frame.pixels, format=frame.pixel_format).reformat(format="yuv420p", interpolation="AREA")
        picture.pts = self._frames
        self._pending[self._frames] = times
        self._frames += 1
        try:
            return self._samples(self._context.encode(picture))
        except av.FFmpegError as err:
            raise ConversionError(f"{self._name} cannot encode the frame: {err}") from None

    def flush(self) -> list[tuple[VideoSample, Times]]:
        if self._context is None:
            return []
        import av

        try:
            return self._samples(self._context.encode(None))
        except av.FFmpegError as err:
            raise ConversionError(f"{self._name} cannot finish the stream: {err}") from None

    @property
    def _name(self) -> str:
        return self.options.encoder or SOFTWARE[self.codec].encoder

    def _open(self, width: int, height: int) -> None:
        import av

        if width % 2 or height % 2:
            raise ConversionError(f"{width}x{height} cannot be encoded as 4:2:0 video (its sides must be even)")
        software = SOFTWARE[self.codec]
        context = av.CodecContext.create(self._name, "w")
        context.width, context.height, context.pix_fmt = width, height, "yuv420p"
        context.time_base, context.framerate = TIME_BASE, 1 / TIME_BASE
        context.gop_size = self.options.gop
        context.max_b_frames = 0
        options = dict(software.options) if self.options.encoder is None else {}
        if self.options.encoder is None and self.options.low_latency:
            options.update(software.low_latency)
        if self.options.encoder is None:
            options["crf"] = str(software.quality if self.options.quality is None else self.options.quality)
        if self.options.preset is not None or self.options.encoder is None:
            options["preset"] = self.options.preset or software.preset
        context.options = options
        try:
            context.open()
        except av.FFmpegError as err:
            raise ConversionError(f"cannot open encoder {self._name} for {width}x{height}: {err}") from None
        self._context, self._size = context, (width, height)

    def _samples(self, packets: list) -> list[tuple[VideoSample, Times]]:
        samples = []
        for packet in packets:
            times = self._pending.pop(packet.pts, None)
            if times is not None:
                samples.append((VideoSample(self.codec, bytes(packet), packet.is_keyframe, False), times))
        return samples
