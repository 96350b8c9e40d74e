"""Spoken samples for the local stack with `--embeddings`: eSpeak NG's voices reading English sentences, as WAV.

The harmonic tones of audio_samples tell the toy voiceprints apart, but to a real speaker-embedding model they are
not voices: every tone scores alike, and a threshold calibrated on them means nothing. Here each demo speaker is an
eSpeak NG voice variant with its own pitch, pitch range and rate, so the same speaker reading different sentences
scores high and different speakers score lower, with the overlap real voices have (the README gives the
distributions, made by `python -m voiceprint_local.speech`).

libespeak-ng and its data come in the `espeakng-loader` wheel (the [embeddings] extra): no system package. The
library is driven through ctypes in synchronous mode, one take per child process (see speech_wav).
"""

from __future__ import annotations

import ctypes
import itertools
import os
import subprocess
import sys
import zlib
from dataclasses import dataclass
from typing import Any

from voiceprint_local.audio_samples import pcm_to_wav

SENTENCES = (
    "The quick brown fox jumps over the lazy dog, then rests by the river for a while.",
    "Please call me back tomorrow morning about the quarterly budget review.",
    "We moved the meeting to Thursday because half of the team is travelling.",
    "I think the new design is cleaner, but the colours need more contrast.",
    "Could you send the slides before lunch so that I can read them first?",
    "The train was late again, so I walked the last two miles in the rain.",
    "Our new office has a small garden where people eat when the sun is out.",
    "Remember to water the plants and lock the back door before you leave.",
)


@dataclass(frozen=True)
class Voice:
    variant: str  # an eSpeak NG voice variant (espeak-ng-data/voices/!v)
    pitch: int  # 0-100, eSpeak's default 50
    pitch_range: int  # 0-100, eSpeak's default 50
    rate: int  # words per minute, eSpeak's default 175


# The demo's speakers and a few more for calibration: variants far apart (a male, a female, a Klatt voice), then
# some near others, as real voices are.
SPEAKERS: dict[str, Voice] = {
    "alice": Voice("f2", 60, 60, 165),
    "bob": Voice("m3", 40, 40, 175),
    "carol": Voice("klatt2", 55, 70, 160),
    "dave": Voice("m1", 45, 50, 185),
    "erin": Voice("f4", 65, 45, 170),
    "frank": Voice("Andy", 50, 55, 175),
    "grace": Voice("Annie", 60, 50, 165),
    "henry": Voice("Michael", 35, 45, 170),
}

# espeak_AUDIO_OUTPUT, espeak_PARAMETER and espeak_POSITION_TYPE of speak_lib.h
_AUDIO_OUTPUT_SYNCHRONOUS = 2
_RATE, _PITCH, _RANGE = 1, 3, 4
_POS_CHARACTER = 1
_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p)


class SpeechUnavailable(RuntimeError):
    """espeakng-loader (the [embeddings] extra) is not installed, or its library did not load."""


class _Engine:
    def __init__(self) -> None:
        try:
            import espeakng_loader  # type: ignore[import-untyped]
        except ImportError as exc:
            raise SpeechUnavailable("espeakng-loader is not installed (the [embeddings] extra)") from exc
        lib = ctypes.CDLL(espeakng_loader.get_library_path())
        lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        lib.espeak_ng_SetRandSeed.argtypes = [ctypes.c_long]
        lib.espeak_Synth.argtypes = [
            ctypes.c_char_p,
            ctypes.c_size_t,
            ctypes.c_uint,
            ctypes.c_int,
            ctypes.c_uint,
            ctypes.c_uint,
            ctypes.c_void_p,
            ctypes.c_void_p,
        ]
        self.sample_rate = int(
            lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0, espeakng_loader.get_data_path().encode(), 0)
        )
        if self.sample_rate <= 0:
            raise SpeechUnavailable("libespeak-ng did not initialise")
        self._chunks: list[bytes] = []
        self._callback = _CALLBACK(self._collect)  # kept referenced: the library calls it later
        lib.espeak_SetSynthCallback(self._callback)
        self._lib = lib

    def _collect(self, wav: Any, samples: int, _events: Any) -> int:
        if samples > 0:
            self._chunks.append(ctypes.string_at(wav, samples * 2))
        return 0  # go on

    def pcm(self, text: str, voice: Voice, seed: int) -> bytes:
        """16-bit mono PCM at `sample_rate`; the same for the same seed (eSpeak jitters the voice at random)."""
        self._lib.espeak_ng_SetRandSeed(seed)
        if self._lib.espeak_SetVoiceByName(f"en+{voice.variant}".encode()) != 0:
            raise SpeechUnavailable(f"eSpeak NG has no voice en+{voice.variant}")
        for parameter, value in ((_PITCH, voice.pitch), (_RANGE, voice.pitch_range), (_RATE, voice.rate)):
            self._lib.espeak_SetParameter(parameter, value, 0)
        self._chunks = []
        data = text.encode() + b"\0"
        if self._lib.espeak_Synth(data, len(data), 0, _POS_CHARACTER, 0, 0, None, None) != 0:
            raise SpeechUnavailable("eSpeak NG refused to synthesise")
        self._lib.espeak_Synchronize()
        return b"".join(self._chunks)


def available() -> bool:
    try:
        _Engine()
    except (SpeechUnavailable, OSError):
        return False
    return True


def speech_wav(speaker: str, take: int = 0, *, sentences: int = 2) -> bytes:
    """`speaker` reading `sentences` sentences, starting from take `take` (takes differ in what is said).

    Each take is made in a process of its own: eSpeak keeps state from one utterance to the next that nothing in
    its API resets (not even espeak_Terminate), so only a first utterance, seeded, is the same every time."""
    if speaker not in SPEAKERS:
        raise KeyError(speaker)  # here, rather than in the child
    made = subprocess.run(  # noqa: S603 - this interpreter, this module, our arguments
        [sys.executable, "-m", "voiceprint_local.speech", "say", speaker, str(take), str(sentences)],
        capture_output=True,
        check=False,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
        timeout=60,
    )
    if made.returncode != 0:
        raise SpeechUnavailable(made.stderr.decode(errors="replace").strip()[-500:])
    return made.stdout


def _say(speaker: str, take: int, sentences: int) -> bytes:
    voice = SPEAKERS[speaker]
    text = " ".join(SENTENCES[(take + i) % len(SENTENCES)] for i in range(sentences))
    engine = _Engine()
    pcm = engine.pcm(text, voice, seed=zlib.crc32(f"{speaker}:{take}".encode()))
    return pcm_to_wav(pcm, sample_rate=engine.sample_rate)


def scores(speakers: tuple[str, ...] = tuple(SPEAKERS), takes: int = 4) -> tuple[list[float], list[float]]:
    """The pyannoteAI-scale confidences (0-100) the emulator gives with --embeddings, between every pair of takes:
    (same speaker, different speakers)."""
    from voiceprint_local import embeddings, voiceprints

    prints = {}
    for speaker, take in itertools.product(speakers, range(takes)):
        samples = embeddings.wav_samples(speech_wav(speaker, take, sentences=1))
        assert samples is not None
        prints[(speaker, take)] = voiceprints.encode_embedding(embeddings.embed(*samples))
    same: list[float] = []
    different: list[float] = []
    for a, b in itertools.combinations(prints, 2):
        (same if a[0] == b[0] else different).append(voiceprints.compare(prints[a], prints[b]))
    return same, different


def main(argv: list[str]) -> int:
    """`say SPEAKER TAKE SENTENCES`: one take's WAV on stdout (speech_wav's child). Else: print the score
    distributions (the README quotes them)."""
    if argv[:1] == ["say"]:
        sys.stdout.buffer.write(_say(argv[1], int(argv[2]), int(argv[3])))
        return 0
    same, different = scores()

    def spread(values: list[float]) -> str:
        ordered = sorted(values)
        at = [ordered[round(q * (len(ordered) - 1))] for q in (0.0, 0.05, 0.5, 0.95, 1.0)]
        return " / ".join(f"{v:.1f}" for v in at)

    print("| pairs of takes | count | min / 5th / median / 95th / max |")
    print("| --- | --- | --- |")
    print(f"| same speaker | {len(same)} | {spread(same)} |")
    print(f"| different speakers | {len(different)} | {spread(different)} |")
    for threshold in (60, 70, 80, 85, 90):
        missed = sum(s < threshold for s in same) / len(same)
        wrong = sum(d >= threshold for d in different) / len(different)
        print(f"threshold {threshold}: same speaker below it {missed:.0%}, different speakers at or above {wrong:.0%}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
