"""Encoded video samples (H.264, H.265, AV1) as Rerun's `VideoStream` takes them: pure bitstream parsing.

Rerun wants one frame per sample, H.264/H.265 in Annex B (start codes) and AV1 as low-overhead OBUs,
and no B-frames (it has no decoding timestamps: rerun#10090). Robots publish what their encoder gives:
Annex B from most, length-prefixed (AVCC, as in MP4) from some. Only the few header bits that say
whether a sample is a keyframe or a B-frame are read here; PyAV exposes none of them for a bare packet
(it would have to decode it). Everything is checked against the sample's length: a unit that runs past
the end, an empty unit or a sample without a picture is a ConversionError, never an IndexError.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

import numpy as np
import rerun as rr

from .errors import ConversionError

START_CODE = b"\x00\x00\x01"


class VideoCodec(str, Enum):
    H264 = "h264"
    H265 = "h265"
    AV1 = "av1"

    @property
    def rerun(self) -> rr.VideoCodec:
        return {VideoCodec.H264: rr.VideoCodec.H264, VideoCodec.H265: rr.VideoCodec.H265, VideoCodec.AV1: rr.VideoCodec.AV1}[self]


# Names a format string may use for each codec: CompressedImage (`h264`), foxglove (`h265`), ffmpeg
# encoder names in FFMPEGPacket (`libx264`, `hevc_nvenc`, `libsvtav1`).
_CODEC_WORDS = ((VideoCodec.H264, ("h264", "x264", "avc")), (VideoCodec.H265, ("h265", "hevc", "x265")),
                (VideoCodec.AV1, ("av1", "av01")))  # fmt: skip


@dataclass(frozen=True)
class VideoSample:
    """One frame's bitstream, ready for `rr.VideoStream`."""

    codec: VideoCodec
    data: bytes  # Annex B (H.264, H.265) or low-overhead OBUs (AV1)
    keyframe: bool  # decodable without earlier samples: H.264 IDR, H.265 IRAP, AV1 KEY_FRAME
    b_frame: bool  # a bi-predicted picture, which Rerun cannot order


def codec_from_format(format_string: str) -> VideoCodec | None:
    """The video codec a format or encoder name names; None for anything else (jpeg, png, compressedDepth)."""
    lowered = format_string.lower()
    for codec, words in _CODEC_WORDS:
        if any(word in lowered for word in words):
            return codec
    return None


def video_sample(codec: VideoCodec, data: bytes | np.ndarray | memoryview) -> VideoSample:
    """Check one encoded frame, bring it to the form Rerun takes, and read whether it is a keyframe or B-frame."""
    raw = bytes(data)
    if not raw:
        raise ConversionError(f"empty {codec.value} sample")
    if codec is VideoCodec.AV1:
        return _av1_sample(raw)
    units = nal_units(raw)
    annex_b = raw if raw.startswith(START_CODE) or raw.startswith(b"\x00" + START_CODE) else to_annex_b(units)
    keyframe, b_frame = (_h264_picture if codec is VideoCodec.H264 else _h265_picture)(units)
    return VideoSample(codec, annex_b, keyframe, b_frame)


def nal_units(data: bytes) -> list[bytes]:
    """The NAL units of an Annex B sample, or of a length-prefixed (AVCC, 4-byte big-endian lengths) one."""
    if data.startswith(START_CODE) or data.startswith(b"\x00" + START_CODE):
        units = [unit.rstrip(b"\x00") for unit in data.split(START_CODE)[1:]]  # trailing zeros belong to the next start code
    else:
        units, offset = [], 0
        while offset < len(data):
            if offset + 4 > len(data):
                raise ConversionError("length-prefixed NAL unit cut short in its length")
            length = int.from_bytes(data[offset : offset + 4], "big")
            if length == 0 or offset + 4 + length > len(data):
                raise ConversionError(
                    f"neither Annex B nor a valid length-prefixed sample: a NAL unit of {length} bytes at byte {offset} "
                    f"of {len(data)}"
                )
            units.append(data[offset + 4 : offset + 4 + length])
            offset += 4 + length
    if not units or any(not unit for unit in units):
        raise ConversionError("empty NAL unit")
    if any(unit[0] & 0x80 for unit in units):
        raise ConversionError("NAL unit with its forbidden bit set (not H.264/H.265, or corrupt)")
    return units


def to_annex_b(units: list[bytes]) -> bytes:
    return b"".join(b"\x00\x00\x00\x01" + unit for unit in units)


def _h264_picture(units: list[bytes]) -> tuple[bool, bool]:
    """(IDR, B slice) from the NAL unit types (5 IDR; 1-5 slices) and the first slice header's slice_type."""
    slices = [unit for unit in units if 1 <= unit[0] & 0x1F <= 5]
    if not slices:
        raise ConversionError("H.264 sample without a picture (no slice NAL unit)")
    bits = _Bits(slices[0][1:])
    bits.ue()  # first_mb_in_slice
    slice_type = bits.ue() % 5  # 0 P, 1 B, 2 I, 3 SP, 4 SI
    return slices[0][0] & 0x1F == 5, slice_type == 1


def _h265_picture(units: list[bytes]) -> tuple[bool, bool]:
    """(IRAP, B slice) from the NAL unit types (16-23 IRAP; 0-31 slices) and the first slice segment's header.

    The slice header's extra bits are counted from a PPS in the same sample (encoders put one before
    each keyframe); without one they are taken as 0, as every common encoder writes them.
    """
    slices = [unit for unit in units if (unit[0] >> 1) & 0x3F <= 31]
    if not slices or len(slices[0]) < 3:
        raise ConversionError("H.265 sample without a picture (no slice NAL unit)")
    extra_bits = 0
    for unit in units:
        if (unit[0] >> 1) & 0x3F == 34:  # PPS
            pps = _Bits(unit[2:])
            pps.ue(), pps.ue()  # pps_pic_parameter_set_id, pps_seq_parameter_set_id
            pps.bits(2)  # dependent_slice_segments_enabled_flag, output_flag_present_flag
            extra_bits = pps.bits(3)
    nal_type = (slices[0][0] >> 1) & 0x3F
    irap = 16 <= nal_type <= 23
    header = _Bits(slices[0][2:])
    if not header.bits(1):  # not the picture's first segment: its slice type needs the SPS; any B shows in the first
        return irap, False
    if irap:
        header.bits(1)  # no_output_of_prior_pics_flag
    header.ue()  # slice_pic_parameter_set_id
    header.bits(extra_bits)
    return irap, header.ue() == 0  # slice_type: 0 B, 1 P, 2 I


_OBU_SEQUENCE_HEADER, _OBU_FRAME_HEADER, _OBU_FRAME = 1, 3, 6


def _av1_sample(data: bytes) -> VideoSample:
    """Walk the OBUs; a keyframe is a frame (header) OBU of frame_type KEY_FRAME (or a reduced still picture).

    AV1 reorders with hidden frames inside one temporal unit, so a sample never needs a later one: no B-frames.
    """
    offset, keyframe, picture, reduced_still = 0, False, False, False
    while offset < len(data):
        header = data[offset]
        if header & 0x80:
            raise ConversionError("AV1 OBU with its forbidden bit set (not AV1, or corrupt)")
        obu_type, has_extension, has_size = (header >> 3) & 0x0F, header & 0x04, header & 0x02
        offset += 2 if has_extension else 1
        if has_size:
            size, offset = _leb128(data, offset)
        else:  # allowed for the last OBU only: it runs to the end
            size = len(data) - offset
        if offset + size > len(data):
            raise ConversionError(f"AV1 OBU of {size} bytes runs past the sample's end ({len(data)} bytes)")
        payload = data[offset : offset + size]
        offset += size
        if obu_type == _OBU_SEQUENCE_HEADER and payload:
            reduced_still = bool(payload[0] & 0x08)  # seq_profile(3) still_picture(1) reduced_still_picture_header(1)
        elif obu_type in (_OBU_FRAME_HEADER, _OBU_FRAME) and not picture:
            picture = True
            bits = _Bits(payload)
            keyframe = reduced_still or (not bits.bits(1) and bits.bits(2) == 0)  # show_existing_frame, frame_type
    if not picture:
        raise ConversionError("AV1 sample without a frame (no frame or frame header OBU)")
    return VideoSample(VideoCodec.AV1, data, keyframe, False)


def _leb128(data: bytes, offset: int) -> tuple[int, int]:
    value = 0
    for i in range(8):
        if offset + i >= len(data):
            raise ConversionError("AV1 OBU size cut short")
        byte = data[offset + i]
        value |= (byte & 0x7F) << (7 * i)
        if not byte & 0x80:
            return value, offset + i + 1
    raise ConversionError("AV1 OBU size longer than 8 bytes")


class _Bits:
    """An RBSP bit reader over the first bytes of a NAL unit payload (emulation prevention removed)."""

    def __init__(self, payload: bytes):
        self.data = payload[:64].replace(b"\x00\x00\x03", b"\x00\x00")  # headers sit in the first bytes
        self.pos = 0

    def bits(self, n: int) -> int:
        value = 0
        for _ in range(n):
            byte = self.pos >> 3
            if byte >= len(self.data):
                raise ConversionError("NAL unit header cut short (truncated NAL unit)")
            value = (value << 1) | ((self.data[byte] >> (7 - (self.pos & 7))) & 1)
            self.pos += 1
        return value

    def ue(self) -> int:
        """An unsigned Exp-Golomb number."""
        zeros = 0
        while not self.bits(1):
            zeros += 1
            if zeros > 31:
                raise ConversionError("Exp-Golomb number longer than 32 bits (corrupt header)")
        return (1 << zeros) - 1 + self.bits(zeros)
