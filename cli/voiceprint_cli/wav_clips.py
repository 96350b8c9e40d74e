"""Cutting a speaker's segments out of a WAV source by byte range (`voiceprint review show --clips DIR`): the
header tells where the samples start and how many bytes a second holds, so a segment is one ranged read, and a
playable clip is that read behind a header of its own. Only uncompressed PCM WAV can be cut this way; other formats
get the source link and the offsets.

Pure logic: the ranged reads are review_aws.ReviewSources'."""

from __future__ import annotations

import struct

from voiceprint.frozen import frozen

HEADER_BYTES = 64 * 1024  # the header's chunks (fmt, data) come before the samples, well within this
_PCM, _EXTENSIBLE = 1, 0xFFFE


@frozen
class WavLayout:
    """Where a WAV file's samples are, and their shape."""

    data_offset: int
    data_size: int
    channels: int
    sample_rate: int
    bits_per_sample: int

    @property
    def block_align(self) -> int:
        return self.channels * self.bits_per_sample // 8

    def byte_range(self, start: float, end: float) -> tuple[int, int] | None:
        """The inclusive byte range of the whole frames from `start` to `end` seconds, within the data (None: the
        segment holds no frame)."""
        frames = self.data_size // self.block_align
        first = min(frames, max(0, round(start * self.sample_rate)))
        last = min(frames, max(first, round(end * self.sample_rate)))
        if last == first:
            return None
        return self.data_offset + first * self.block_align, self.data_offset + last * self.block_align - 1

    def clip(self, samples: bytes) -> bytes:
        """A playable WAV of these samples (a range from byte_range), with this file's format."""
        fmt = struct.pack(
            "<HHIIHH",
            _PCM,
            self.channels,
            self.sample_rate,
            self.sample_rate * self.block_align,
            self.block_align,
            self.bits_per_sample,
        )
        return (
            b"RIFF"
            + struct.pack("<I", 36 + len(samples))
            + b"WAVEfmt "
            + struct.pack("<I", len(fmt))
            + fmt
            + b"data"
            + struct.pack("<I", len(samples))
            + samples
        )


def layout(header: bytes) -> WavLayout | None:
    """The samples' place and shape from the first bytes of a file; None when it is not PCM WAV (or the data chunk
    starts beyond the bytes given)."""
    if len(header) < 12 or header[:4] != b"RIFF" or header[8:12] != b"WAVE":
        return None
    at, fmt = 12, None
    while at + 8 <= len(header):
        chunk, size = header[at : at + 4], struct.unpack("<I", header[at + 4 : at + 8])[0]
        body = at + 8
        if chunk == b"fmt " and size >= 16 and body + 16 <= len(header):
            code, channels, rate, _, _, bits = struct.unpack("<HHIIHH", header[body : body + 16])
            if code == _EXTENSIBLE:  # the real format is the SubFormat GUID's first two bytes (PCM: 1)
                sub = header[body + 24 : body + 26]
                code = struct.unpack("<H", sub)[0] if size >= 26 and len(sub) == 2 else 0
            fmt = (code, channels, rate, bits)
        elif chunk == b"data":
            if fmt is None or fmt[0] != _PCM or not fmt[1] or not fmt[2] or fmt[3] % 8:
                return None
            return WavLayout(body, size, fmt[1], fmt[2], fmt[3])
        at = body + size + (size & 1)  # chunks are word-aligned
    return None
