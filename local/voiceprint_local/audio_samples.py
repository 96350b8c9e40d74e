"""Synthetic "speakers" as WAV bytes, made on the fly (stdlib only): no audio is downloaded or committed.

Each speaker is a fundamental frequency with its own harmonic weights and a slow vibrato, which is enough for the
emulator's toy voiceprints to tell speakers apart.
"""

from __future__ import annotations

import io
import math
import random
import struct
import wave

SAMPLE_RATE = 16000

SPEAKERS: dict[str, tuple[float, tuple[float, ...]]] = {
    "alice": (220.0, (1.0, 0.6, 0.3, 0.15, 0.1)),
    "bob": (110.0, (1.0, 0.2, 0.5, 0.1, 0.3)),
    "carol": (330.0, (1.0, 0.8, 0.1, 0.4, 0.05)),
}


def wav_bytes(seconds: float, speaker: str = "alice", *, sample_rate: int = SAMPLE_RATE, seed: int = 0) -> bytes:
    f0, weights = SPEAKERS[speaker]
    rng = random.Random(f"{speaker}:{seed}")
    n = int(seconds * sample_rate)
    total = sum(weights)
    frames = bytearray()
    phase = [0.0] * len(weights)
    for i in range(n):
        t = i / sample_rate
        f = f0 * (1.0 + 0.02 * math.sin(2 * math.pi * 5.0 * t))  # vibrato
        sample = 0.0
        for h, w in enumerate(weights):
            phase[h] += 2 * math.pi * f * (h + 1) / sample_rate
            sample += w * math.sin(phase[h])
        envelope = 0.5 + 0.5 * math.sin(2 * math.pi * 3.0 * t) ** 2  # syllable-like loudness
        value = 0.6 * envelope * sample / total + 0.01 * (rng.random() - 0.5)
        frames += struct.pack("<h", max(-32767, min(32767, int(value * 32767))))
    return pcm_to_wav(bytes(frames), sample_rate=sample_rate)


def pcm_to_wav(pcm: bytes, *, sample_rate: int = SAMPLE_RATE, channels: int = 1, sample_width: int = 2) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(sample_width)
        w.setframerate(sample_rate)
        w.writeframes(pcm)
    return buf.getvalue()


def silent_wav(seconds: float, *, sample_rate: int = 8000) -> bytes:
    """A WAV of the given length that costs nothing to build (for duration-limit cases)."""
    return pcm_to_wav(b"\0\0" * int(seconds * sample_rate), sample_rate=sample_rate)
