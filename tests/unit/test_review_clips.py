"""Cutting a speaker's segments out of a WAV recording by byte range (voiceprint_cli.wav_clips), the per-segment
links of `review show`, and the sample `review confirm --enrol` uploads (voiceprint_cli.review_queue)."""

from __future__ import annotations

import io
import json
import struct
import wave

import pytest

from voiceprint.record import Record
from voiceprint_cli import review_queue
from voiceprint_cli.wav_clips import layout
from voiceprint_local.audio_samples import pcm_to_wav

RATE = 8000


def _wav(seconds: float, *, channels: int = 1) -> bytes:
    frames = int(seconds * RATE)
    pcm = b"".join(struct.pack("<h", (i % 1000) - 500) * channels for i in range(frames))
    return pcm_to_wav(pcm, sample_rate=RATE, channels=channels)


def _frames(clip: bytes) -> tuple[int, int, bytes]:
    with wave.open(io.BytesIO(clip)) as w:
        return w.getframerate(), w.getnchannels(), w.readframes(w.getnframes())


def test_a_segment_is_cut_by_byte_range_into_a_playable_wav() -> None:
    audio = _wav(3.0, channels=2)
    wav = layout(audio[:4096])
    assert wav is not None
    assert (wav.data_offset, wav.channels, wav.sample_rate, wav.bits_per_sample) == (44, 2, RATE, 16)
    first, last = wav.byte_range(1.0, 1.5) or (0, 0)
    assert (first, last) == (44 + RATE * 4, 44 + int(1.5 * RATE) * 4 - 1)  # whole frames of 4 bytes
    rate, channels, frames = _frames(wav.clip(audio[first : last + 1]))
    assert (rate, channels, len(frames)) == (RATE, 2, RATE // 2 * 4)
    assert frames == audio[first : last + 1]


def test_ranges_stay_within_the_samples() -> None:
    wav = layout(_wav(2.0))
    assert wav is not None
    assert wav.byte_range(1.5, 9.0) == (44 + int(1.5 * RATE) * 2, 44 + 2 * RATE * 2 - 1)
    assert wav.byte_range(-1.0, 0.5) == (44, 44 + RATE - 1)
    assert wav.byte_range(5.0, 6.0) is None  # after the end: no frame
    assert wav.byte_range(1.0, 1.0) is None


def test_only_pcm_wav_is_cut() -> None:
    audio = _wav(1.0)
    assert layout(b"ID3\x04" + audio[4:]) is None  # an MP3's tag
    assert layout(audio[:12]) is None  # no data chunk within the bytes read
    float_wav = audio[:20] + struct.pack("<H", 3) + audio[22:]  # IEEE float: not PCM
    assert layout(float_wav) is None
    # WAVE_FORMAT_EXTENSIBLE: its SubFormat says PCM (cut) or IEEE float (not cut).
    for sub, cut in ((1, True), (3, False)):
        fmt = (
            struct.pack("<HHIIHHHHI", 0xFFFE, 1, RATE, RATE * 2, 2, 16, 22, 16, 4) + struct.pack("<H", sub) + bytes(14)
        )
        extensible = b"RIFF" + struct.pack("<I", 4 + 8 + len(fmt) + 8 + 16) + b"WAVEfmt " + struct.pack("<I", len(fmt))
        extensible += fmt + b"data" + struct.pack("<I", 16) + bytes(16)
        assert (layout(extensible) is not None) is cut
    # An odd-sized chunk before the data is padded to a word: the data is found after the pad byte.
    extra = b"LIST" + struct.pack("<I", 3) + b"abc\0"
    shifted = audio[:36] + extra + audio[36:]
    found = layout(shifted)
    assert found is not None
    assert found.data_offset == 44 + len(extra)


class _Audio:
    """A recording in memory, read by byte range, counting the bytes that left the bucket."""

    def __init__(self, data: bytes) -> None:
        self.data, self.sent = data, 0

    def header(self, bucket: str, key: str, version_id: str | None) -> bytes:
        return self.read(bucket, key, version_id, 0, 65535)

    def read(self, bucket: str, key: str, version_id: str | None, first: int, last: int) -> bytes:
        self.sent += len(self.data[first : last + 1])
        return self.data[first : last + 1]


def _record() -> Record:
    return Record.from_item({"pk": "OBJ#b/k", "sk": "VER#v", "bucket": "b", "objectKey": "k.wav", "jobId": "j1"})


def test_each_segment_gets_its_own_link_and_byte_range() -> None:
    wav = layout(_wav(4.0))
    entries = review_queue.segment_links([(0.5, 1.25), (2.0, 3.0)], "https://s3.test/k.wav?X-Amz-Signature=s", wav)
    assert [e["link"] for e in entries] == [
        "https://s3.test/k.wav?X-Amz-Signature=s#t=0.5,1.25",
        "https://s3.test/k.wav?X-Amz-Signature=s#t=2,3",
    ]
    assert [e["bytes"] for e in entries] == [f"{44 + 8000}-{44 + 20000 - 1}", f"{44 + 32000}-{44 + 48000 - 1}"]
    assert "bytes" not in review_queue.segment_links([(0.5, 1.0)], "https://s3.test/k.mp3", None)[0]


def test_the_enrolment_sample_is_the_speakers_segments_up_to_thirty_seconds() -> None:
    audio = _Audio(_wav(60.0))
    turns = [
        {"diarizationSpeaker": "SPEAKER_01", "start": 0.0, "end": 5.0},
        {"diarizationSpeaker": "SPEAKER_00", "start": 5.0, "end": 20.0},
        {"diarizationSpeaker": "SPEAKER_01", "start": 20.0, "end": 60.0},
    ]
    sample = review_queue.enrolment_sample(audio, _record(), "SPEAKER_01", {"identification": turns})
    rate, _, frames = _frames(sample)
    assert len(frames) == 30 * rate * 2  # 5 s, then 25 of the next 40 s: the voiceprint's limit
    assert audio.sent < 65536 + 31 * rate * 2  # neither the other speaker's 15 s nor the last 15 s left
    assert frames[: 5 * rate * 2] == audio.data[44 : 44 + 5 * rate * 2]
    with pytest.raises(review_queue.ReviewError, match="no segment"):
        review_queue.enrolment_sample(audio, _record(), "SPEAKER_09", {"identification": turns})
    with pytest.raises(review_queue.ReviewError, match="only PCM WAV"):
        review_queue.enrolment_sample(_Audio(b"ID3" + bytes(100)), _record(), "SPEAKER_01", json.loads("{}"))
