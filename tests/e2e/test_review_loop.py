"""The review and calibration loop end to end on the local stack with real speaker embeddings (`--embeddings`):
spoken samples, identifications whose best score falls in the ReviewBand queued and announced, decisions made with
`voiceprint review`, a threshold proposed and stored with `voiceprint calibrate`, and a later identification of the
same voice submitted with that threshold, which changes its match.

The scores are the emulator's for eSpeak NG's voices (speech.py) against the group's voiceprints, deterministic:
an enrolled speaker's other take scores 90-98 against their voiceprint; an unenrolled speaker's best candidate 70-82
(README: "Realistic local scores")."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.helpers import cli_json, cli_text, settle
from voiceprint_local import speech
from voiceprint_local.stack import LocalStack, StackOptions, running, wait_for

pytestmark = pytest.mark.e2e

GROUP = "team/"
ENROLLED = ("alice", "bob", "carol", "dave")
THRESHOLD, BAND = 70, "70-92"
# (speaker, take) for each identification: who really speaks. erin, frank, grace and henry have no voiceprint, so
# their best candidate (70-82) is a wrong match at the stack's threshold; alice's take 2 is hers at ~91.
IN_BAND = [("alice", 2), ("erin", 1), ("frank", 1), ("grace", 1), ("henry", 1)]
CLEAR = [("bob", 1)]  # ~98: above the band, matched and not queued
# Other takes of the same voices (the same audio again would be refused as a duplicate_request).
LATER = [("alice", 1), ("bob", 2), ("erin", 2), ("frank", 2), ("grace", 2), ("henry", 2)]


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    if not speech.available():
        pytest.fail("espeakng-loader is in requirements-dev.txt: speech must be available to the tests")
    options = StackOptions(
        reconcile_every_seconds=0.5,
        emulator={"embedding": "resemblyzer"},
        env={"IDENTIFY_THRESHOLD": str(THRESHOLD)},
        parameters={"ReviewBand": BAND},
        log_level="WARNING",
        metrics=False,
    )
    with running(options) as s:
        yield s


def _identify(stack: LocalStack, takes: list[tuple[str, int]], prefix: str) -> dict[str, dict[str, Any]]:
    keys = {f"identify/{GROUP}{prefix}-{who}-{take}.wav": (who, take) for who, take in takes}
    for key, (who, take) in keys.items():
        stack.upload(key, speech.speech_wav(who, take, sentences=1))
    return settle(stack, list(keys), timeout=120)


def _speaker(record: dict[str, Any]) -> dict[str, Any]:
    """The one speaker's summary (the record keeps the matches as JSON text)."""
    return dict(json.loads(record["matches"])[0])


def test_grey_band_identifications_are_reviewed_and_calibrate_a_threshold_that_changes_later_matches(
    stack: LocalStack, tmp_path: Path
) -> None:
    enrol = [f"voiceprints/{GROUP}{who}.wav" for who in ENROLLED]
    for key, who in zip(enrol, ENROLLED, strict=True):
        stack.upload(key, speech.speech_wav(who, 0, sentences=2))
    settle(stack, enrol, timeout=120)

    records = _identify(stack, IN_BAND + CLEAR, "first")
    assert {r["status"] for r in records.values()} == {"succeeded"}
    truth = {record["jobId"]: key.split("-")[1] for key, record in records.items()}
    clear = records[f"identify/{GROUP}first-bob-1.wav"]
    assert "reviewQueue" not in clear
    assert _speaker(clear)["match"] == "bob"
    queued = {job: who for job, who in truth.items() if who != "bob"}
    for job in queued:
        request = stack.emulator.jobs[job].request if stack.emulator else {}
        assert request["matching"]["threshold"] == THRESHOLD
        assert request["turnLevelConfidence"] is True  # asked for when the band is on
    # Each unenrolled speaker was matched to someone else at the stack's threshold: the mistakes review catches.
    wrong = {job for job, who in queued.items() if who not in ENROLLED}
    assert all(_speaker(r)["match"] not in (None, truth[r["jobId"]]) for r in records.values() if r["jobId"] in wrong)

    # The queue, and one Needs Review event per queued identification (beside its Ready event).
    listed = cli_json(stack, "review", "list")
    assert {row["jobId"] for row in listed} == set(queued)
    assert all(len(row["speakers"]) == 1 and THRESHOLD <= row["speakers"][0]["score"] <= 92 for row in listed)
    seen: list[dict[str, Any]] = []

    def announced() -> bool:
        seen.extend(stack.published_events())
        return {e["detail"]["jobId"] for e in seen if e["detail-type"] == "Identification Needs Review"} == set(queued)

    assert wait_for(announced, 30, 0.2), [(e["detail-type"], e["detail"].get("jobId")) for e in seen]

    alice_job = records[f"identify/{GROUP}first-alice-2.wav"]["jobId"]
    shown = cli_json(stack, "review", "show", alice_job, "--clips", str(tmp_path))
    [segment] = shown["segments"]["SPEAKER_00"]
    assert shown["source"]["cutByByteRange"] is True
    assert segment["link"].startswith(stack.aws_url)
    assert "X-Amz-Signature=" in segment["link"]
    assert segment["link"].endswith(f"#t=0,{segment['end']:g}")  # a media fragment: the segment alone
    source = speech.speech_wav("alice", 2, sentences=1)
    first, last = (int(b) for b in segment["bytes"].split("-"))
    clip = Path(segment["clip"]).read_bytes()
    assert clip[44:] == source[first : last + 1]  # the clip is the segment's own bytes, behind a header
    assert clip[:4] == b"RIFF"
    assert first == 44  # the samples start after the header

    # The reviewer knows who spoke: confirm alice, reject the rest.
    for job, who in queued.items():
        action = "confirm" if who in ENROLLED else "reject"
        enrol = ["--enrol", "--consent", "review-2026-11"] if who in ENROLLED else []
        row = cli_json(stack, "review", action, job, "--speaker", "SPEAKER_00", *enrol)
        assert row["speakers"][0]["decision"]["decision"] == f"{action}ed"
        assert row["review"] == "done"
        if enrol:  # a new voiceprint of alice from this recording's segments, enrolled by the pipeline
            enrolled = settle(stack, [row["enrolled"]["key"]], timeout=120)[row["enrolled"]["key"]]
            assert (enrolled["status"], enrolled["label"], enrolled["group"]) == ("succeeded", "alice", GROUP)
            assert enrolled["consentRef"] == "review-2026-11"
    assert cli_json(stack, "review", "list") == []

    def reviewed() -> bool:
        seen.extend(stack.published_events())
        return {e["detail"]["jobId"] for e in seen if e["detail-type"] == "Identification Reviewed"} == set(queued)

    assert wait_for(reviewed, 30, 0.2)

    # Calibration: the highest wrong match scored under 82 and alice's take over 90, so full precision starts
    # above every rejected score, where alice is still recognised.
    report = cli_json(stack, "calibrate", "--group", GROUP, "--target-precision", "1.0", "--shadow", "--store")
    rejected = max(_speaker(r)["confidence"] for r in records.values() if r["jobId"] in wrong)
    confirmed = _speaker(records[f"identify/{GROUP}first-alice-2.wav"])
    assert report["reviewed"] == len(queued)
    assert rejected < report["proposed"] <= confirmed["confidence"]
    assert report["stored"] == report["proposed"]
    assert {c["jobId"] for c in report["shadow"]["changes"]} == wrong  # the past matches it would have undone
    printed = cli_text(stack, "calibrate", "--group", GROUP, "--png", str(tmp_path / "curve.png"))  # as people read it
    assert (tmp_path / "curve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"  # drawn in .venv-plot (scripts/test.sh)
    assert f"in use: {report['stored']}" in printed
    assert "\\x0a" not in printed

    # Later identifications of the same voices go out with the group's threshold: the impostors are no longer
    # matched, alice and bob still are.
    later = _identify(stack, LATER, "later")
    for key, record in later.items():
        who = key.split("-")[1]
        request = stack.emulator.jobs[record["jobId"]].request if stack.emulator else {}
        assert request["matching"]["threshold"] == report["stored"]
        assert int(record["threshold"]) == report["stored"]
        assert _speaker(record)["match"] == (who if who in ENROLLED else None), (key, _speaker(record))


def test_candidates_and_speaker_counts_chosen_per_recording(stack: LocalStack) -> None:
    """Runs after the loop above (the group's voiceprints are enrolled): metadata narrows the candidates and sets
    the speaker count; a label with no voiceprint or a count the spec refuses fails before anything is paid."""
    assert stack.emulator is not None
    s3 = stack.client("s3")
    uploads = {
        f"identify/{GROUP}chosen.wav": {"candidates": "carol,dave", "num-speakers": "1"},
        f"identify/{GROUP}unknown.wav": {"candidates": "carol,zoe"},
        f"identify/{GROUP}zero.wav": {"num-speakers": "0"},
    }
    jobs_before = len(stack.emulator.jobs)
    for take, (key, metadata) in enumerate(uploads.items(), start=3):  # each its own take: no duplicate audio
        s3.put_object(
            Bucket=stack.bucket, Key=key, Body=speech.speech_wav("carol", take, sentences=1), Metadata=metadata
        )
    records = settle(stack, list(uploads), timeout=120)
    chosen = records[f"identify/{GROUP}chosen.wav"]
    assert chosen["status"] == "succeeded"
    assert chosen["candidates"] == ["carol", "dave"]
    request = stack.emulator.jobs[chosen["jobId"]].request
    assert [v["label"] for v in request["voiceprints"]] == ["carol", "dave"]
    assert request["numSpeakers"] == 1
    assert _speaker(chosen)["match"] == "carol"
    refused = {k: (r["status"], r["failureCode"]) for k, r in records.items() if k != f"identify/{GROUP}chosen.wav"}
    assert refused == {
        f"identify/{GROUP}unknown.wav": ("failed", "unknown_candidates"),
        f"identify/{GROUP}zero.wav": ("failed", "invalid_options"),
    }
    assert len(stack.emulator.jobs) == jobs_before + 1  # only the valid one reached pyannoteAI
