"""The [embeddings] extra: resemblyzer's weights run with numpy, checked against resemblyzer itself."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from voiceprint_local import embeddings, voiceprints
from voiceprint_local.audio_samples import silent_wav, wav_bytes

REFERENCE = json.loads((Path(__file__).parents[1] / "fixtures" / "resemblyzer_reference.json").read_text())
CASES = {k: v for k, v in REFERENCE.items() if not k.startswith("_")}


def _embed(case: dict) -> np.ndarray:
    samples = embeddings.wav_samples(
        wav_bytes(case["seconds"], case["speaker"], seed=case["seed"], sample_rate=case["rate"])
    )
    assert samples is not None
    return embeddings.embed(*samples)


def test_weights_load_without_torch() -> None:
    import sys

    weights = embeddings.model()
    assert weights["lstm.weight_ih_l0"].shape == (1024, 40)
    assert weights["lstm.weight_hh_l2"].shape == (1024, 256)
    assert weights["linear.weight"].shape == (256, 256)
    assert "torch" not in sys.modules
    assert "resemblyzer" not in sys.modules  # only its data file was read


@pytest.mark.parametrize("name", [k for k, v in CASES.items() if v["rate"] == 16000])
def test_matches_resemblyzer_at_16_khz(name: str) -> None:
    ours, reference = _embed(CASES[name]), np.array(CASES[name]["embedding"])
    assert np.abs(ours - reference).max() < 1e-4
    assert float(ours @ reference) > 0.99999


@pytest.mark.parametrize("name", [k for k, v in CASES.items() if v["rate"] != 16000])
def test_other_rates_are_resampled_close_to_resemblyzer(name: str) -> None:
    # Linear interpolation here, soxr in librosa: close, not identical.
    assert float(_embed(CASES[name]) @ np.array(CASES[name]["embedding"])) > 0.99


def test_embeddings_are_unit_norm_non_negative_and_deterministic() -> None:
    a = _embed(CASES["alice3"])
    assert a.shape == (256,)
    assert np.linalg.norm(a) == pytest.approx(1.0, abs=1e-5)
    assert (a >= 0).all()
    assert np.array_equal(a, _embed(CASES["alice3"]))


def test_same_speaker_scores_higher_than_another() -> None:
    prints = {
        (spk, seed): voiceprints.encode_embedding(_embed({"speaker": spk, "seconds": 2.5, "seed": seed, "rate": 16000}))
        for spk in ("alice", "bob", "carol")
        for seed in (10, 11)
    }
    for spk in ("alice", "bob", "carol"):
        same = voiceprints.compare(prints[(spk, 10)], prints[(spk, 11)])
        others = [
            voiceprints.compare(prints[(spk, 10)], prints[(o, 11)]) for o in ("alice", "bob", "carol") if o != spk
        ]
        assert same > max(others) + 10


def test_voiceprint_encoding_round_trips_and_fits_the_api_limit() -> None:
    vector = _embed(CASES["bob5"])
    vp = voiceprints.encode_embedding(vector)
    assert vp.startswith("resemblyzer-v1:")
    assert len(vp) <= 20000
    assert voiceprints.decode_embedding(vp) == pytest.approx(list(vector), abs=1e-7)
    assert voiceprints.compare(vp, voiceprints.encode([0.0] * 24)) == 0.0  # different kinds never match


def test_silence_and_non_wav_are_handled() -> None:
    samples = embeddings.wav_samples(silent_wav(2.0, sample_rate=16000))
    assert samples is not None
    assert np.isfinite(embeddings.embed(*samples)).all()
    assert embeddings.wav_samples(b"not a wav") is None


def test_missing_extra_gives_an_install_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(embeddings.EmbeddingsUnavailable, match=r"--no-deps resemblyzer==0\.1\.4"):
        embeddings.weights_path()


def test_a_crafted_weights_file_cannot_run_code(tmp_path: Path) -> None:
    import os
    import pickle

    class Exploit:
        def __reduce__(self) -> tuple:
            return (os.system, ("touch " + str(tmp_path / "pwned"),))

    evil = tmp_path / "evil.pt"
    evil.write_bytes(pickle.dumps(Exploit(), protocol=2))  # as the very first record (the "magic number")
    with pytest.raises((ValueError, TypeError)):
        embeddings.load_legacy_torch(evil)
    assert not (tmp_path / "pwned").exists()
