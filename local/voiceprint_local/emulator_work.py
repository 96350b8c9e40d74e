"""What the emulated vendor does with a job's audio: measure it, make a voiceprint (a toy one from the samples, or
real speaker embeddings with the optional [embeddings] extra), and identify speakers against candidates."""

from __future__ import annotations

import io
from typing import Any

from voiceprint_local import voiceprints


def audio_seconds(audio: bytes) -> float | None:
    """The duration mutagen reads from the header, or None when it is not audio it knows."""
    import mutagen

    try:
        parsed = mutagen.File(io.BytesIO(audio))
    except Exception:  # noqa: BLE001 - any parse failure means the same to a client
        return None
    length = getattr(getattr(parsed, "info", None), "length", None)
    return float(length) if length else None


def voiceprint_of(audio: bytes, embedding: str) -> str:
    if embedding == "resemblyzer":
        from voiceprint_local import embeddings

        samples = embeddings.wav_samples(audio)
        if samples is not None:
            return voiceprints.encode_embedding(embeddings.embed(*samples))
    vector = voiceprints.embedding(audio)
    if vector is None:  # not 16-bit PCM WAV: still deterministic, from the bytes
        vector = [((b % 200) - 100) / 100 for b in audio[-24:].rjust(24, b"\0")]
    return voiceprints.encode(vector)


def identify(request: dict[str, Any], voiceprint: str, length: float) -> dict[str, Any]:
    """One speaker over the whole recording, matched against the request's candidates by the spec's rules."""
    matching = request.get("matching") or {}
    threshold = float(matching.get("threshold") or 0)
    scores = {vp["label"]: voiceprints.compare(voiceprint, vp["voiceprint"]) for vp in request["voiceprints"]}
    best = max(scores, key=lambda k: scores[k])
    match = best if scores[best] >= threshold else None
    segment: dict[str, Any] = {"speaker": "SPEAKER_00", "start": 0.0, "end": round(length, 3)}
    if request.get("turnLevelConfidence"):  # how sure the turn is its diarization speaker's: one speaker, sure
        segment["confidence"] = {"SPEAKER_00": 100}
    return {
        "diarization": [segment],
        "identification": [{**segment, "diarizationSpeaker": "SPEAKER_00", "match": match}],
        "voiceprints": [{"speaker": "SPEAKER_00", "match": match or "", "confidence": scores}],
    }
