"""Real speaker embeddings for the emulator (optional extra `[embeddings]`): resemblyzer's VoiceEncoder, run
with numpy. The weights are the `pretrained.pt` shipped inside the PyPI package resemblyzer==0.1.4, which is
installed with --no-deps (it would pull torch and librosa) and never imported: this module reads the file's
legacy torch pickle format itself and re-implements the model's few pieces (librosa-style mel spectrogram,
a 3-layer LSTM, linear + ReLU + L2 norm) following resemblyzer's voice_encoder.py and audio.py.
"""

from __future__ import annotations

import collections
import hashlib
import importlib.util
import pickle
import struct
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import IO, Any

import numpy as np
import numpy.typing as npt

# resemblyzer/hparams.py
SAMPLE_RATE = 16000
N_FFT = 400  # 25 ms
HOP = 160  # 10 ms
N_MELS = 40
PARTIAL_FRAMES = 160  # 1.6 s
NORM_TARGET_DBFS = -30
VAD_WINDOW = 480  # 30 ms
VAD_AVERAGE_WIDTH = 8
VAD_MAX_SILENCE = 6
INT16_MAX = 2**15 - 1

Array = npt.NDArray[np.float32]


class EmbeddingsUnavailable(RuntimeError):
    """resemblyzer (and numpy) are not installed: `scripts/run-local.sh --embeddings` installs them."""


# sha256 of resemblyzer 0.1.4's pretrained.pt: any other file (a tampered package, a mirror's substitute) is
# refused before a byte of it is parsed.
WEIGHTS_SHA256 = "39373b86598fa3da9fcddee6142382efe09777e8d37dc9c0561f41f0070f134e"


class WeightsRefused(ValueError):
    """The weights file is not the one pinned, or its tensors point outside their storage."""


def weights_path() -> Path:
    spec = importlib.util.find_spec("resemblyzer")  # locates the package without importing it (it imports torch)
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddingsUnavailable("resemblyzer==0.1.4 is not installed (pip install --no-deps resemblyzer==0.1.4)")
    path = Path(next(iter(spec.submodule_search_locations))) / "pretrained.pt"
    if not path.exists():
        raise EmbeddingsUnavailable(f"{path} is missing")
    return path


# -- reading torch's legacy (pre-zip) serialization without torch ----------------------------------------------
_DTYPES = {
    "FloatStorage": np.float32,
    "DoubleStorage": np.float64,
    "LongStorage": np.int64,
    "IntStorage": np.int32,
    "HalfStorage": np.float16,
    "ByteStorage": np.uint8,
    "BoolStorage": np.bool_,
}


@dataclass
class _TensorRef:
    key: str
    offset: int
    size: tuple[int, ...]
    stride: tuple[int, ...]


class _Opaque:
    """Stands in for classes the checkpoint mentions that the model does not need (optimizer state...)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    def __setstate__(self, state: Any) -> None:
        pass


def _rebuild_tensor(storage: str, offset: int, size: tuple[int, ...], stride: tuple[int, ...], *_: Any) -> _TensorRef:
    return _TensorRef(storage, offset, tuple(size), tuple(stride))


class _Unpickler(pickle.Unpickler):
    def __init__(self, file: IO[bytes]) -> None:
        super().__init__(file, encoding="latin1")
        self.storages: dict[str, Any] = {}

    def find_class(self, module: str, name: str) -> Any:
        if module == "collections" and name == "OrderedDict":
            return collections.OrderedDict
        if module == "torch._utils" and name in ("_rebuild_tensor_v2", "_rebuild_tensor"):
            return _rebuild_tensor
        if module == "torch" and name in _DTYPES:
            return name
        return _Opaque  # never executes code from the file: unknown classes become inert placeholders

    def persistent_load(self, pid: Any) -> str:
        # ('storage', storage_type, key, location, numel[, view_metadata])
        _, storage_type, key, _location, _numel = pid[:5]
        self.storages[str(key)] = _DTYPES[storage_type]
        return str(key)


def _check_bounds(ref: _TensorRef, base: npt.NDArray[Any]) -> None:
    """A view may read only its own storage: as_strided trusts offsets, sizes and strides, and a file that lies
    about them would make it read (or crash on) the process's memory beyond."""
    dims = (ref.size, ref.stride)
    if (
        not all(isinstance(v, int) and v >= 0 for v in (ref.offset, *ref.size, *ref.stride))
        or len(set(map(len, dims))) != 1
    ):
        raise WeightsRefused(f"tensor of storage {ref.key}: negative or malformed offset, size or stride")
    if 0 in ref.size:
        return
    last = ref.offset + sum((n - 1) * s for n, s in zip(ref.size, ref.stride, strict=True))
    if last >= len(base):
        raise WeightsRefused(f"tensor of storage {ref.key} reaches element {last} of {len(base)}")


def _resolve(obj: Any, data: dict[str, Any]) -> Any:
    if isinstance(obj, _TensorRef):
        if obj.key not in data:
            raise WeightsRefused(f"tensor of a storage the file does not hold ({obj.key})")
        base = data[obj.key]
        _check_bounds(obj, base)
        view = np.lib.stride_tricks.as_strided(
            base[obj.offset :], shape=obj.size, strides=[s * base.itemsize for s in obj.stride]
        )
        return np.array(view, dtype=np.float32)
    if isinstance(obj, dict):
        return {k: _resolve(v, data) for k, v in obj.items()}
    return obj


def load_legacy_torch(path: Path) -> dict[str, Any]:
    """Every record goes through the restricted unpickler: nothing in the file can name code to run."""
    size = path.stat().st_size
    with path.open("rb") as f:
        if _Unpickler(f).load() != 0x1950A86A20F9469CFC6C:  # magic number
            raise ValueError("not a legacy torch file")
        _Unpickler(f).load()  # protocol version
        _Unpickler(f).load()  # sys info
        unpickler = _Unpickler(f)
        result = unpickler.load()
        keys = _Unpickler(f).load()  # storage keys, in file order
        data: dict[str, Any] = {}
        for key in keys:
            if key not in unpickler.storages:
                raise WeightsRefused(f"storage {key} was never declared")
            dtype = np.dtype(unpickler.storages[key])
            (count,) = struct.unpack("<q", f.read(8))
            left = size - f.tell()
            raw = f.read(count * dtype.itemsize) if 0 <= count * dtype.itemsize <= left else b""
            if count < 0 or len(raw) != count * dtype.itemsize:
                raise WeightsRefused(f"storage {key} claims {count} elements the file does not hold")
            data[key] = np.frombuffer(raw, dtype=dtype)
    return dict(_resolve(result, data))


@lru_cache(maxsize=1)
def model() -> dict[str, Array]:
    path = weights_path()
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != WEIGHTS_SHA256:
        raise WeightsRefused(f"{path} has sha256 {digest}, not resemblyzer 0.1.4's")
    state = load_legacy_torch(path)["model_state"]
    return {k: np.asarray(v, dtype=np.float32) for k, v in state.items() if k.startswith(("lstm.", "linear."))}


# -- audio -> mel ----------------------------------------------------------------------------------------------
def _hz_to_mel(f: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    f_sp, min_log_hz, logstep = 200.0 / 3, 1000.0, np.log(6.4) / 27.0  # Slaney, as librosa (htk=False)
    mel = f / f_sp
    return np.where(f >= min_log_hz, min_log_hz / f_sp + np.log(np.maximum(f, 1e-10) / min_log_hz) / logstep, mel)


def _mel_to_hz(m: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    f_sp, min_log_hz, logstep = 200.0 / 3, 1000.0, np.log(6.4) / 27.0
    min_log_mel = min_log_hz / f_sp
    return np.where(m >= min_log_mel, min_log_hz * np.exp(logstep * (m - min_log_mel)), f_sp * m)


@lru_cache(maxsize=1)
def mel_filters() -> npt.NDArray[np.float64]:
    """librosa.filters.mel(sr=16000, n_fft=400, n_mels=40) (Slaney scale and area normalisation)."""
    fft_freqs = np.linspace(0, SAMPLE_RATE / 2, 1 + N_FFT // 2)
    mel_f = _mel_to_hz(np.linspace(_hz_to_mel(np.array(0.0)), _hz_to_mel(np.array(SAMPLE_RATE / 2)), N_MELS + 2))
    fdiff = np.diff(mel_f)
    ramps = mel_f[:, None] - fft_freqs[None, :]
    lower = -ramps[:-2] / fdiff[:-1, None]
    upper = ramps[2:] / fdiff[1:, None]
    weights = np.maximum(0, np.minimum(lower, upper))
    return weights * (2.0 / (mel_f[2 : N_MELS + 2] - mel_f[:N_MELS]))[:, None]


def mel_spectrogram(wav: npt.NDArray[np.float64]) -> Array:
    """librosa.feature.melspectrogram(y, sr=16000, n_fft=400, hop_length=160, n_mels=40).T (power 2, centred)."""
    padded = np.pad(wav, N_FFT // 2, mode="constant")  # librosa >= 0.10 centres with zeros
    n_frames = 1 + (len(padded) - N_FFT) // HOP
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(N_FFT) / N_FFT)  # periodic Hann
    idx = np.arange(N_FFT)[None, :] + HOP * np.arange(n_frames)[:, None]
    power = np.abs(np.fft.rfft(padded[idx] * window, axis=1)) ** 2
    return (power @ mel_filters().T).astype(np.float32)


def _resample(wav: npt.NDArray[np.float64], rate: int) -> npt.NDArray[np.float64]:
    if rate == SAMPLE_RATE:
        return wav
    n = round(len(wav) * SAMPLE_RATE / rate)
    return np.interp(np.linspace(0, len(wav) - 1, n), np.arange(len(wav)), wav)


def _trim_long_silences(wav: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    try:
        import webrtcvad
    except ImportError:
        return wav
    wav = wav[: len(wav) - len(wav) % VAD_WINDOW]
    pcm = np.round(wav * INT16_MAX).astype("<i2").tobytes()
    vad = webrtcvad.Vad(3)
    flags = np.array(
        [vad.is_speech(pcm[i * 2 : (i + VAD_WINDOW) * 2], SAMPLE_RATE) for i in range(0, len(wav), VAD_WINDOW)],
        dtype=float,
    )
    if not flags.size:
        return wav
    w = VAD_AVERAGE_WIDTH
    padded = np.concatenate((np.zeros((w - 1) // 2), flags, np.zeros(w // 2)))
    mask = np.round(np.convolve(padded, np.ones(w) / w, mode="valid")).astype(bool)
    mask = np.convolve(mask, np.ones(VAD_MAX_SILENCE + 1), mode="same") > 0  # binary dilation
    trimmed = wav[np.repeat(mask, VAD_WINDOW)]
    return trimmed if len(trimmed) >= HOP * PARTIAL_FRAMES // 4 else wav  # no speech found: keep it all


def preprocess(wav: npt.NDArray[np.float64], rate: int) -> npt.NDArray[np.float64]:
    wav = _resample(wav, rate)
    rms = np.sqrt(np.mean((wav * INT16_MAX) ** 2)) or 1e-9
    change = NORM_TARGET_DBFS - 20 * np.log10(rms / INT16_MAX)
    if change > 0:  # increase only
        wav = wav * 10 ** (change / 20)
    return _trim_long_silences(wav)


# -- the model -------------------------------------------------------------------------------------------------
def _sigmoid(x: Array) -> Array:
    # The same function as 1 / (1 + exp(-x)), without exp's overflow (a RuntimeWarning) for large negative x.
    return np.asarray(0.5 * (1.0 + np.tanh(0.5 * x)), dtype=np.float32)


def _lstm_last_hidden(x: Array) -> Array:
    """torch.nn.LSTM(40, 256, 3, batch_first=True) -> h_n[-1]; gate order i, f, g, o."""
    w = model()
    seq = x
    h = np.zeros((x.shape[0], 256), dtype=np.float32)
    for layer in range(3):
        w_ih, w_hh = w[f"lstm.weight_ih_l{layer}"], w[f"lstm.weight_hh_l{layer}"]
        bias = w[f"lstm.bias_ih_l{layer}"] + w[f"lstm.bias_hh_l{layer}"]
        inputs = seq @ w_ih.T + bias  # (batch, time, 1024), all time steps at once
        h = np.zeros((x.shape[0], 256), dtype=np.float32)
        c = np.zeros_like(h)
        outputs = np.empty((x.shape[0], x.shape[1], 256), dtype=np.float32)
        for t in range(x.shape[1]):
            gates = inputs[:, t] + h @ w_hh.T
            i, f, g, o = np.split(gates, 4, axis=1)
            c = _sigmoid(f) * c + _sigmoid(i) * np.tanh(g)
            h = _sigmoid(o) * np.tanh(c)
            outputs[:, t] = h
        seq = outputs
    return h


def _partial_slices(n_samples: int, rate: float = 1.3, min_coverage: float = 0.75) -> list[slice]:
    n_frames = int(np.ceil((n_samples + 1) / HOP))
    step = int(np.round((SAMPLE_RATE / rate) / HOP))
    starts = range(0, max(1, n_frames - PARTIAL_FRAMES + step + 1), step)
    slices = [slice(s, s + PARTIAL_FRAMES) for s in starts]
    last = slices[-1]
    coverage = (n_samples - last.start * HOP) / ((last.stop - last.start) * HOP)
    if coverage < min_coverage and len(slices) > 1:
        slices = slices[:-1]
    return slices


def wav_samples(data: bytes) -> tuple[npt.NDArray[np.float64], int] | None:
    """Mono float samples and rate of a 16-bit PCM WAV, or None for anything else."""
    import io
    import wave

    try:
        with wave.open(io.BytesIO(data)) as w:
            if w.getsampwidth() != 2 or w.getnframes() == 0:
                return None
            frames = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float64) / 32768.0
            return frames[:: w.getnchannels()], w.getframerate()
    except (wave.Error, EOFError):
        return None


def embed(samples: npt.NDArray[np.float64], rate: int) -> Array:
    """The 256-d, L2-normed speaker embedding of mono float samples in [-1, 1] (VoiceEncoder.embed_utterance)."""
    wav = preprocess(samples, rate)
    slices = _partial_slices(len(wav))
    needed = slices[-1].stop * HOP
    if needed > len(wav):
        wav = np.pad(wav, (0, needed - len(wav)))
    mel = mel_spectrogram(wav)
    batch = np.stack([mel[s] for s in slices])
    w = model()
    raw = np.maximum(0, _lstm_last_hidden(batch) @ w["linear.weight"].T + w["linear.bias"])
    partials = raw / np.linalg.norm(raw, axis=1, keepdims=True)
    mean = partials.mean(axis=0)
    return np.asarray(mean / np.linalg.norm(mean), dtype=np.float32)
