"""Find an audio file's format and duration from its header bytes only, through ranged reads.

mutagen parses the headers; it reads from `RangedReader`, a seekable file object that fetches fixed-size blocks
on demand (one S3 ranged GET each) and refuses to read more than `max_bytes` in total, so a 100 MiB file costs a
few small GETs, never a download.
"""

from __future__ import annotations

import io
from collections.abc import Callable

from voiceprint.frozen import frozen

# (start, end_inclusive) -> bytes
RangeFetcher = Callable[[int, int], bytes]


class ReadBudgetExceeded(Exception):
    """The header parser wanted more bytes than we allow for probing."""


class RangedReader(io.RawIOBase):
    def __init__(
        self,
        fetch: RangeFetcher,
        size: int,
        *,
        block_size: int = 64 * 1024,
        max_bytes: int = 1024 * 1024,
        first_block: bytes | None = None,
    ):
        """`first_block`: block 0, when the caller has already read it (it counts against `max_bytes`)."""
        super().__init__()
        self._fetch = fetch
        self._size = size
        self._block = block_size
        self._max = max_bytes
        self._pos = 0
        self._blocks: dict[int, bytes] = {}
        self.bytes_fetched = 0
        self.requests = 0
        self.fetch_error: Exception | None = None  # a storage error is not a verdict on the audio
        if first_block is not None:
            self._blocks[0] = first_block
            self.bytes_fetched = len(first_block)

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._size}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def _block_at(self, index: int) -> bytes:
        if index not in self._blocks:
            start = index * self._block
            end = min(self._size, start + self._block) - 1
            if self.bytes_fetched + (end - start + 1) > self._max:
                raise ReadBudgetExceeded(f"header parsing needed more than {self._max} bytes")
            try:
                data = self._fetch(start, end)
            except Exception as exc:
                self.fetch_error = exc
                raise
            self.requests += 1
            self.bytes_fetched += len(data)
            self._blocks[index] = data
        return self._blocks[index]

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        want = min(len(buffer), max(0, self._size - self._pos))
        done = 0
        while done < want:
            index, offset = divmod(self._pos, self._block)
            chunk = self._block_at(index)[offset : offset + want - done]
            if not chunk:
                break
            buffer[done : done + len(chunk)] = chunk
            done += len(chunk)
            self._pos += len(chunk)
        return done

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            size = max(0, self._size - self._pos)
        buf = bytearray(size)
        n = self.readinto(memoryview(buf))
        return bytes(buf[:n])


@frozen
class AudioInfo:
    format: str
    duration_seconds: float
    # Bytes per second of audio: exact for uncompressed PCM (WAV, AIFF), else an upper bound for the codec.
    bytes_per_second: float = 0.0
    exact: bool = False


# Above these, a file holds more audio than its header says (bits per second; lossless formats: 24-bit PCM).
_LOSSY_MAX_BITRATE = {"MP3": 320_000, "OggVorbis": 512_000, "OggOpus": 512_000}
# Room for what is not audio: headers, tags, cover art, trailing chunks.
_SLACK_BYTES = 64 * 1024
_SLACK_RATIO = 0.02
_TAG_SLACK_BYTES = 1024 * 1024


def size_problem(info: AudioInfo, size: int) -> str | None:
    """Why the object's size contradicts its header's duration (a header that lies about how long the audio is),
    or None. PCM is checked both ways (data bytes / byte rate); compressed audio against its codec's maximum."""
    if info.bytes_per_second <= 0:
        return None
    declared = info.duration_seconds * info.bytes_per_second
    if info.exact:
        slack = _SLACK_BYTES + _SLACK_RATIO * declared
        if size > declared + slack or declared > size + slack:
            actual = max(0.0, size - _SLACK_BYTES) / info.bytes_per_second
            return (
                f"the header says {info.duration_seconds:.1f} s of audio, but the object's {size} bytes hold about "
                f"{actual:.1f} s at its byte rate"
            )
        return None
    ceiling = declared * (1 + _SLACK_RATIO) + _TAG_SLACK_BYTES
    if size > ceiling:
        return (
            f"the header says {info.duration_seconds:.1f} s of audio, too short for {size} bytes of "
            f"{info.format} at its maximum bit rate"
        )
    return None


def _rates(parsed: object, length: float) -> tuple[float, bool]:
    info = getattr(parsed, "info", None)
    fmt = type(parsed).__name__
    channels = int(getattr(info, "channels", 0) or 0)
    rate = int(getattr(info, "sample_rate", 0) or 0)
    if fmt in ("WAVE", "AIFF"):
        bits = int(getattr(info, "bits_per_sample", 0) or getattr(info, "sample_size", 0) or 0)
        pcm = getattr(info, "audio_format", 1) in (1, 3, 0xFFFE)  # integer, float, extensible PCM
        if pcm and bits and channels and rate:
            return channels * rate * bits / 8, True
    if fmt in _LOSSY_MAX_BITRATE:
        return _LOSSY_MAX_BITRATE[fmt] / 8, False
    if channels and rate:
        return channels * rate * 3 * 1.1, False  # lossless codecs stay under 24-bit PCM (plus framing)
    return 0.0, False


class NotAudio(Exception):
    """No supported audio header was found (or its duration is unknown)."""


def _formats() -> list[type]:
    """The audio containers we accept, and only those: mutagen's default list also tries tag-only and niche
    formats (APEv2, WavPack, ...) whose sniffing reads the end of the file, a second ranged GET for every upload."""
    from mutagen.aac import AAC
    from mutagen.aiff import AIFF
    from mutagen.asf import ASF
    from mutagen.flac import FLAC
    from mutagen.mp3 import MP3
    from mutagen.mp4 import MP4
    from mutagen.oggflac import OggFLAC
    from mutagen.oggopus import OggOpus
    from mutagen.oggvorbis import OggVorbis
    from mutagen.wave import WAVE

    return [WAVE, AIFF, MP3, FLAC, OggVorbis, OggOpus, OggFLAC, MP4, AAC, ASF]


def probe(reader: RangedReader) -> AudioInfo:
    """Identify the audio format and duration. Raises NotAudio for anything mutagen cannot measure."""
    import mutagen  # imported here: only the submit path needs it

    try:
        parsed = mutagen.File(reader, options=_formats())
    except ReadBudgetExceeded as exc:
        raise NotAudio(f"audio header not found within the first bytes read ({exc})") from None
    except Exception as exc:  # noqa: BLE001 - mutagen raises many types for garbage input
        if reader.fetch_error is not None:
            raise reader.fetch_error from None
        raise NotAudio(f"unreadable audio header ({type(exc).__name__})") from None
    if parsed is None or parsed.info is None:
        raise NotAudio("not a recognised audio format (WAV, MP3, FLAC, OGG/Opus, M4A/AAC, AIFF, WMA)")
    length = getattr(parsed.info, "length", None)
    if not isinstance(length, (int, float)) or length <= 0:
        raise NotAudio(f"{type(parsed).__name__} file with no measurable duration")
    bytes_per_second, exact = _rates(parsed, float(length))
    return AudioInfo(
        format=type(parsed).__name__,
        duration_seconds=float(length),
        bytes_per_second=bytes_per_second,
        exact=exact,
    )
