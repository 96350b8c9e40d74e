from __future__ import annotations

import pytest

from voiceprint.audio_probe import NotAudio, RangedReader, probe
from voiceprint_local.audio_samples import silent_wav, wav_bytes


def _reader(data: bytes, **kw) -> RangedReader:
    return RangedReader(lambda start, end: data[start : end + 1], len(data), **kw)


def test_wav_duration_from_header() -> None:
    info = probe(_reader(wav_bytes(1.5, "bob")))
    assert info.format == "WAVE"
    assert info.duration_seconds == pytest.approx(1.5, abs=0.01)


def test_long_file_costs_only_header_reads() -> None:
    data = silent_wav(600, sample_rate=16000)  # 10 minutes, ~19 MB
    reader = _reader(data)
    assert probe(reader).duration_seconds == pytest.approx(600)
    assert reader.bytes_fetched <= 64 * 1024
    assert reader.requests == 1  # the header block only: no format sniffer reads the end of the file


@pytest.mark.parametrize(
    "data",
    [b"hello, this is plainly text" * 100, b"%PDF-1.7\n" + b"\0" * 5000, bytes(range(256)) * 40, b"RIFF\0\0\0\0WAVE"],
)
def test_non_audio_is_refused(data: bytes) -> None:
    with pytest.raises(NotAudio):
        probe(_reader(data))


def test_wav_with_no_samples_has_no_duration() -> None:
    with pytest.raises(NotAudio, match="duration"):
        probe(_reader(silent_wav(0)))


def test_read_budget_bounds_what_a_parser_may_pull() -> None:
    data = b"\xff" * (4 * 1024 * 1024)  # looks like endless MPEG sync garbage
    reader = _reader(data, max_bytes=256 * 1024)
    with pytest.raises(NotAudio):
        probe(reader)
    assert reader.bytes_fetched <= 256 * 1024


def test_storage_errors_are_not_mistaken_for_bad_audio() -> None:
    class Boom(Exception):
        pass

    def fetch(start: int, end: int) -> bytes:
        raise Boom("s3 throttled")

    with pytest.raises(Boom):
        probe(RangedReader(fetch, 1000))


def test_reader_reads_across_block_boundaries() -> None:
    data = bytes(range(256)) * 1000
    reader = _reader(data, block_size=1000)
    reader.seek(990)
    assert reader.read(20) == data[990:1010]
    reader.seek(-5, 2)
    assert reader.read() == data[-5:]
    assert reader.read(10) == b""


def _flac(seconds: int, sample_rate: int = 16000) -> bytes:
    """A FLAC stream's header: the STREAMINFO block, which is where the duration lives, then filler frames."""
    bits = (sample_rate << 44) | (0 << 41) | (15 << 36) | (seconds * sample_rate)  # mono, 16-bit
    info = (4096).to_bytes(2, "big") * 2 + b"\0" * 6 + bits.to_bytes(8, "big") + b"\0" * 16
    return b"fLaC" + bytes([0x80, 0, 0, len(info)]) + info + b"\xff\xf8" + b"\0" * 200_000


def test_formats_other_than_wav_are_measured_from_one_header_read() -> None:
    reader = _reader(_flac(12))
    info = probe(reader)
    assert info.format == "FLAC"
    assert info.duration_seconds == pytest.approx(12)
    assert reader.requests == 1
