"""Find an audio file's format and duration from its header bytes only, through ranged reads.

mutagen parses the headers; it reads from `RangedReader`, a seekable file object that fetches fixed-size blocks
on demand (one S3 ranged GET each) and refuses to read more than `max_bytes` in total, so a 100 MiB file costs a
few small GETs, never a download.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass

# (start, end_inclusive) -> bytes
RangeFetcher = Callable[[int, int], bytes]


class ReadBudgetExceeded(Exception):
    """The header parser wanted more bytes than we allow for probing."""


class RangedReader(io.RawIOBase):
    def __init__(self, fetch: RangeFetcher, size: int, *, block_size: int = 64 * 1024, max_bytes: int = 1024 * 1024):
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


@dataclass(frozen=True)
class AudioInfo:
    format: str
    duration_seconds: float


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
    return AudioInfo(format=type(parsed).__name__, duration_seconds=float(length))
