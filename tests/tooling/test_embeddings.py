"""The [embeddings] extra: resemblyzer's weights run with numpy, checked against resemblyzer itself."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar

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


# -- issue 18, item 10: the weights are the pinned file, and their tensors stay inside their storage ---------------
def test_weights_other_than_the_pinned_file_are_refused_before_parsing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tampered = tmp_path / "pretrained.pt"
    tampered.write_bytes(embeddings.weights_path().read_bytes()[:-1] + b"\0")
    monkeypatch.setattr(embeddings, "weights_path", lambda: tampered)
    embeddings.model.cache_clear()
    try:
        with pytest.raises(embeddings.WeightsRefused, match="sha256"):
            embeddings.model()
    finally:
        embeddings.model.cache_clear()


def _legacy_file(path: Path, tensor: tuple, storage_elements: int, declared_elements: int | None = None) -> Path:
    """A legacy torch file with one float storage "0" and one tensor (offset, size, stride) over it."""
    import pickle
    import struct
    import types

    class Storage:  # pickled as a persistent id, as torch does
        pass

    class Pickler(pickle._Pickler):  # the Python pickler: names torch's globals without importing torch
        def persistent_id(self, obj: object) -> object:
            return ("storage", FloatStorage, "0", "cpu", storage_elements) if isinstance(obj, Storage) else None

        def save_global(self, obj: object, name: str | None = None) -> None:
            self.write(pickle.GLOBAL + f"{obj.__module__}\n{obj.__qualname__}\n".encode())  # type: ignore[attr-defined]
            self.memoize(obj)  # type: ignore[attr-defined]

        dispatch: ClassVar[dict[Any, Any]] = {
            **pickle._Pickler.dispatch,
            types.FunctionType: save_global,
            type: save_global,
        }

    class FloatStorage:
        pass

    FloatStorage.__module__, FloatStorage.__qualname__ = "torch", "FloatStorage"

    def rebuild(*args: object) -> None:
        raise AssertionError("never called")

    rebuild.__module__, rebuild.__qualname__ = "torch._utils", "_rebuild_tensor_v2"

    class Tensor:
        def __reduce__(self) -> tuple:
            return (rebuild, (Storage(), *tensor))

    import io

    out = io.BytesIO()
    header: tuple[Any, ...] = (0x1950A86A20F9469CFC6C, 1001, {})
    for record in header:
        pickle.dump(record, out, protocol=2)
    Pickler(out, protocol=2).dump({"w": Tensor()})
    pickle.dump(["0"], out, protocol=2)
    count = storage_elements if declared_elements is None else declared_elements
    out.write(struct.pack("<q", count) + np.arange(storage_elements, dtype=np.float32).tobytes())
    path.write_bytes(out.getvalue())
    return path


def test_a_tensor_within_its_storage_loads(tmp_path: Path) -> None:
    loaded = embeddings.load_legacy_torch(_legacy_file(tmp_path / "ok.pt", (2, (2, 3), (3, 1)), 8))
    assert loaded["w"].tolist() == [[2, 3, 4], [5, 6, 7]]


@pytest.mark.parametrize(
    ("tensor", "elements", "declared"),
    [
        ((0, (4, 4), (4, 1)), 8, None),  # reads past the end of its storage
        ((1_000_000_000, (1,), (1,)), 8, None),  # an offset far outside
        ((0, (2, 2), (1_000_000, 1)), 8, None),  # a stride that leaps out
        ((-4, (2,), (1,)), 8, None),  # a negative offset
        ((0, (2,), (1,)), 8, 1 << 40),  # a storage that claims more elements than the file holds
    ],
)
def test_a_tensor_pointing_outside_its_storage_is_refused(
    tmp_path: Path, tensor: tuple, elements: int, declared
) -> None:
    with pytest.raises(embeddings.WeightsRefused):
        embeddings.load_legacy_torch(_legacy_file(tmp_path / "evil.pt", tensor, elements, declared))
