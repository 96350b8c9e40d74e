"""The spoken samples of the local stack (local/voiceprint_local/speech.py): eSpeak NG from the espeakng-loader
wheel, through ctypes; and what real embeddings make of them."""

from __future__ import annotations

import io
import wave

from voiceprint_local import speech


def _read(data: bytes) -> tuple[int, int, float]:
    with wave.open(io.BytesIO(data)) as w:
        return w.getnchannels(), w.getsampwidth(), w.getnframes() / w.getframerate()


def test_a_take_is_mono_16_bit_speech_of_a_few_seconds_and_the_same_every_time() -> None:
    assert speech.available()
    take = speech.speech_wav("alice", 0)
    channels, width, seconds = _read(take)
    assert (channels, width) == (1, 2)
    assert 3.0 < seconds < 30.0  # one speaker, within pyannoteAI's 30 s for a voiceprint
    assert speech.speech_wav("alice", 0) == take
    assert speech.speech_wav("alice", 1) != take  # another take says something else
    assert speech.speech_wav("bob", 0) != take  # another voice says the same thing differently


def test_real_embeddings_score_each_demo_speaker_above_the_others() -> None:
    same, different = speech.scores(("alice", "bob", "carol"), takes=3)
    assert (len(same), len(different)) == (9, 27)
    assert min(same) > max(different)
    assert min(same) > 80.0


def test_the_calibration_speakers_overlap_as_real_voices_do() -> None:
    """Not every pair apart: bob and dave are close (two similar male voices), which is what a review band and a
    calibrated threshold are for."""
    same, different = speech.scores(("bob", "dave"), takes=2)
    assert max(different) > min(same) - 5.0
