"""The emulator's voiceprints, always tagged as emulator output.

Default ("emulator-v1:"): band energies of WAV audio. Not a speaker model: a deterministic fingerprint good
enough to tell apart the synthetic speakers of audio_samples, with nothing to install. With the optional
[embeddings] extra ("resemblyzer-v1:"): real 256-d speaker embeddings, see embeddings.py.
"""

from __future__ import annotations

import base64
import io
import json
import math
import struct
import wave
from typing import Any

PREFIX = "emulator-v1:"
RESEMBLYZER_PREFIX = "resemblyzer-v1:"
BANDS = tuple(80.0 * (2 ** (i / 4)) for i in range(24))  # 80 Hz .. ~4.5 kHz, quarter octaves
FRAMES = 12
FRAME_SIZE = 512


def _goertzel_power(samples: list[float], freq: float, rate: int) -> float:
    coeff = 2 * math.cos(2 * math.pi * freq / rate)
    s1 = s2 = 0.0
    for x in samples:
        s1, s2 = x + coeff * s1 - s2, s1
    return s1 * s1 + s2 * s2 - coeff * s1 * s2


def embedding(wav: bytes) -> list[float] | None:
    """Unit-norm band-energy vector of a 16-bit PCM WAV, or None when the audio is not such a WAV."""
    try:
        with wave.open(io.BytesIO(wav)) as w:
            if w.getsampwidth() != 2:
                return None
            rate, channels, n = w.getframerate(), w.getnchannels(), w.getnframes()
            pcm = w.readframes(n)
    except (wave.Error, EOFError):
        return None
    count = len(pcm) // 2
    if count < FRAME_SIZE * channels:
        return None
    values = struct.unpack(f"<{count}h", pcm[: count * 2])[::channels]
    step = max(1, (len(values) - FRAME_SIZE) // FRAMES)
    energies = [0.0] * len(BANDS)
    for start in range(0, len(values) - FRAME_SIZE + 1, step)[:FRAMES]:
        frame = [v / 32768.0 for v in values[start : start + FRAME_SIZE]]
        for b, freq in enumerate(BANDS):
            if freq < rate / 2:
                energies[b] += _goertzel_power(frame, freq, rate)
    logs = [math.log10(1e-9 + e) for e in energies]
    mean = sum(logs) / len(logs)
    centred = [v - mean for v in logs]
    norm = math.sqrt(sum(v * v for v in centred)) or 1.0
    return [round(v / norm, 4) for v in centred]


def encode(vector: list[float]) -> str:
    payload = json.dumps({"emulator": True, "bands": vector}, separators=(",", ":")).encode()
    return PREFIX + base64.urlsafe_b64encode(payload).decode()


def encode_embedding(vector: list[float] | Any) -> str:
    """A real embedding (float32) as an opaque string, ~1.4k characters for 256 dimensions."""
    import numpy as np

    return RESEMBLYZER_PREFIX + base64.urlsafe_b64encode(np.asarray(vector, dtype="<f4").tobytes()).decode()


def decode(voiceprint: str) -> list[float] | None:
    """The vector of a toy voiceprint, or None."""
    if not voiceprint.startswith(PREFIX):
        return None
    try:
        data = json.loads(base64.urlsafe_b64decode(voiceprint[len(PREFIX) :]))
        return [float(v) for v in data["bands"]]
    except (ValueError, KeyError, TypeError):
        return None


def decode_embedding(voiceprint: str) -> list[float] | None:
    if not voiceprint.startswith(RESEMBLYZER_PREFIX):
        return None
    raw = base64.urlsafe_b64decode(voiceprint[len(RESEMBLYZER_PREFIX) :])
    if len(raw) % 4:
        return None
    return list(struct.unpack(f"<{len(raw) // 4}f", raw))


def similarity(a: list[float], b: list[float]) -> float:
    """Cosine similarity mapped to the API's 0..100 confidence scale."""
    dot = sum(x * y for x, y in zip(a, b, strict=False))
    return round(max(0.0, min(100.0, 50.0 * (dot + 1.0))), 1)


def compare(a: str, b: str) -> float:
    """Confidence (0..100) that two emulator voiceprints are the same speaker; 0 across kinds."""
    if a.startswith(RESEMBLYZER_PREFIX) and b.startswith(RESEMBLYZER_PREFIX):
        ea, eb = decode_embedding(a), decode_embedding(b)
        # resemblyzer embeddings are non-negative and unit-norm: the cosine is already in [0, 1]
        return round(100.0 * max(0.0, sum(x * y for x, y in zip(ea or [], eb or [], strict=False))), 1)
    ta, tb = decode(a), decode(b)
    return similarity(ta, tb) if ta and tb else 0.0
