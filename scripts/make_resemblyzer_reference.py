"""One-off: embeddings computed by resemblyzer itself, the reference that tests/tooling/test_embeddings.py checks the
numpy port (local/voiceprint_local/embeddings.py) against.

Needs torch, librosa, scipy, webrtcvad and resemblyzer==0.1.4, e.g. in a Python 3.11 venv; not part of the test
run. From the repository root:  python scripts/make_resemblyzer_reference.py tests/fixtures/resemblyzer_reference.json
"""

from __future__ import annotations

import io
import json
import sys
import wave
from pathlib import Path

import librosa
import numpy as np
import torch
from resemblyzer import VoiceEncoder, preprocess_wav

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "local"))
from voiceprint_local.audio_samples import wav_bytes

CASES = {
    "alice3": ("alice", 3.0, 0, 16000),
    "bob5": ("bob", 5.0, 2, 16000),
    "carol2": ("carol", 2.0, 1, 16000),
    "alice8k": ("alice", 3.0, 3, 8000),
}


def main(target: str) -> None:
    encoder = VoiceEncoder(device="cpu", verbose=False)
    out: dict[str, object] = {
        "_about": f"Embeddings computed by resemblyzer 0.1.4 itself (torch {torch.__version__}, librosa "
        f"{librosa.__version__}) from voiceprint_local.audio_samples.wav_bytes(seconds, speaker, seed=seed, "
        "sample_rate=rate); made by scripts/make_resemblyzer_reference.py"
    }
    for name, (speaker, seconds, seed, rate) in CASES.items():
        with wave.open(io.BytesIO(wav_bytes(seconds, speaker, seed=seed, sample_rate=rate))) as w:
            samples = np.frombuffer(w.readframes(w.getnframes()), "<i2").astype(np.float32) / 32768.0
        embedding = encoder.embed_utterance(preprocess_wav(samples, source_sr=rate))
        out[name] = {
            "speaker": speaker,
            "seconds": seconds,
            "seed": seed,
            "rate": rate,
            "embedding": [round(float(v), 6) for v in embedding],
        }
    Path(target).write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main(sys.argv[1])
