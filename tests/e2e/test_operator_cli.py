"""Issue 12: what a user reaches for after deploying, tried on the local stack (a CloudFormation stack, IAM
enforced): `voiceprint doctor` with an exit code per outcome, `voiceprint enrol` and `voiceprint identify`."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.helpers import settle
from voiceprint_cli.__main__ import main
from voiceprint_local.audio_samples import wav_bytes
from voiceprint_local.provisioning import SECRET_NAMES
from voiceprint_local.stack import LocalStack, StackOptions, running, wait_for

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    with running(StackOptions(log_level="CRITICAL", metrics=False, reconcile_every_seconds=0.5)) as s:
        yield s


def _cli(stack: LocalStack, *args: str) -> tuple[int, str, str]:
    assert stack.api is not None
    out, err = io.StringIO(), io.StringIO()
    code = main(["--local", "--aws-endpoint", stack.aws_url, "--api", stack.api.url, *args], out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def test_enrol_uploads_with_the_label_and_waits_for_the_voiceprint(stack: LocalStack, tmp_path: Path) -> None:
    sample = tmp_path / "take-1.wav"
    sample.write_bytes(wav_bytes(2.0, "alice"))
    code, out, _ = _cli(stack, "enrol", str(sample), "--label", "Alice Martin", "--group", "ops", "--wait")
    assert code == 0
    assert f"uploaded s3://{stack.bucket}/voiceprints/ops/take-1.wav" in out
    assert "voiceprint succeeded   label 'Alice Martin'" in out
    record = stack.terminal_records()["voiceprints/ops/take-1.wav"]
    assert (record["label"], record["group"]) == ("Alice Martin", "ops/")


def test_enrol_with_a_consent_reference_keeps_it_on_the_record_and_in_the_event(
    stack: LocalStack, tmp_path: Path
) -> None:
    sample = tmp_path / "take-9.wav"
    sample.write_bytes(wav_bytes(2.0, "bob"))
    args = ["enrol", str(sample), "--label", "Bob", "--group", "consented", "--consent", "consent-2026-0042", "--wait"]
    assert _cli(stack, *args)[0] == 0
    record = stack.terminal_records()["voiceprints/consented/take-9.wav"]
    assert record["consentRef"] == "consent-2026-0042"
    assert wait_for(
        lambda: any(e["detail"].get("consentRef") == "consent-2026-0042" for e in stack.published_events()), 10
    )
    code, _, err = _cli(stack, "enrol", str(sample), "--label", "Bob", "--consent", "café")
    assert (code, err) == (3, "--consent: printable ASCII only (S3 metadata)\n")


def test_a_label_s3_metadata_cannot_carry_names_the_object(stack: LocalStack, tmp_path: Path) -> None:
    sample = tmp_path / "take-2.wav"
    sample.write_bytes(wav_bytes(2.0, "bob"))
    code, _out, _ = _cli(stack, "enrol", str(sample), "--label", "Zoë Brontë", "--group", "ops", "--wait")
    assert code == 0
    assert stack.terminal_records()["voiceprints/ops/Zoë Brontë.wav"]["label"] == "Zoë Brontë"


def test_identify_prints_who_spoke(stack: LocalStack, tmp_path: Path) -> None:
    sample = tmp_path / "take-1.wav"
    sample.write_bytes(wav_bytes(2.0, "alice"))
    assert _cli(stack, "enrol", str(sample), "--label", "Alice Martin", "--group", "ops", "--wait")[0] == 0
    call = tmp_path / "standup.wav"
    call.write_bytes(wav_bytes(2.0, "alice"))
    code, out, _ = _cli(stack, "identify", str(call), "--group", "ops", "--wait")
    assert code == 0
    assert "identify/ops/standup.wav  identify   succeeded   matches SPEAKER_00=Alice Martin" in out


def test_enrol_without_wait_only_uploads_and_a_missing_file_is_a_usage_error(stack: LocalStack) -> None:
    code, _, err = _cli(stack, "enrol", "/nonexistent.wav", "--label", "x")
    assert (code, err) == (3, "no such file: /nonexistent.wav\n")


def test_backfill_submits_the_objects_from_before_the_stack_and_a_sweep_then_finds_none_left(
    stack: LocalStack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 14: objects that got no notification (uploaded before the stack, or their message lost) get a record."""
    s3 = stack.client("s3")
    config = {
        k: v
        for k, v in s3.get_bucket_notification_configuration(Bucket=stack.bucket).items()
        if k != "ResponseMetadata"
    }
    s3.put_bucket_notification_configuration(Bucket=stack.bucket, NotificationConfiguration={})
    keys = [f"voiceprints/before/{name}.wav" for name in ("alice", "bob", "carol")]
    try:
        for key in keys:
            s3.put_object(Bucket=stack.bucket, Key=key, Body=wav_bytes(2.0, key.split("/")[-1][:-4]))
    finally:
        s3.put_bucket_notification_configuration(Bucket=stack.bucket, NotificationConfiguration=config)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))  # the resume file

    code, out, _ = _cli(stack, "backfill", "--prefix", "voiceprints/before/", "--dry-run")
    assert code == 0, out
    assert "3 objects listed, 0 already recorded, 0 skipped, 3 enqueued (dry run: nothing sent)" in out
    assert not any(r["objectKey"] in keys for r in stack.records())

    code, out, _ = _cli(stack, "backfill", "--prefix", "voiceprints/before/", "--limit", "2")
    assert code == 2, out
    assert "stopped: the limit of 2 reached" in out
    code, out, _ = _cli(stack, "backfill", "--prefix", "voiceprints/before/")
    assert code == 0, out
    assert "1 enqueued" in out  # resumed after the two already sent
    records = settle(stack, keys)
    assert {r["status"] for r in records.values()} == {"succeeded"}
    assert len([r for r in stack.records() if r["objectKey"] in keys]) == 3  # one record, one job, each

    code, out, _ = _cli(stack, "--json", "sweep", "--older-than", "0", "--prefix", "voiceprints/before/")
    assert code == 0, out
    assert json.loads(out) | {"waited_seconds": 0} == {
        "listed": 3,
        "recorded": 3,
        "skipped": 0,
        "sweep_age": 0.0,  # the queue is empty: --older-than holds (while messages wait, the queue's retention)
        "enqueued": 0,
        "waited_seconds": 0,
        "complete": True,
        "stopped": None,
        "prefixes": ["voiceprints/before/"],
        "dryRun": False,
        "state": None,
    }
    code, _, err = _cli(stack, "backfill", "--prefix", "elsewhere/")
    assert code == 3
    assert "not under the stack's prefixes" in err


def test_doctor_passes_on_a_healthy_stack_and_gives_each_problem_its_exit_code(stack: LocalStack) -> None:
    code, out, _ = _cli(stack, "doctor")
    assert code == 0, out
    assert out.count("ok   ") == 4
    assert "n/a  alarms" in out
    assert "n/a  reconciler schedule" in out

    assert stack.api is not None
    code, out, _ = _cli(stack, "doctor", "--webhook-url", stack.api.url + "/not-the-webhook")
    assert code == 12, out

    sqs = stack.client("sqs")
    sqs.send_message(QueueUrl=stack.dlq_url, MessageBody="{}")
    code, out, _ = _cli(stack, "doctor")
    assert code == 13
    assert "dead-letter queue 1" in out
    sqs.purge_queue(QueueUrl=stack.dlq_url)

    sm = stack.client("secretsmanager")
    sm.put_secret_value(SecretId=SECRET_NAMES["api_key"], SecretString="not-the-key")
    try:
        code, out, _ = _cli(stack, "doctor")
        assert code == 11, out
    finally:
        sm.put_secret_value(SecretId=SECRET_NAMES["api_key"], SecretString=stack.api_key)

    sm.delete_secret(SecretId=SECRET_NAMES["webhook_secret"], ForceDeleteWithoutRecovery=True)
    code, out, _ = _cli(stack, "doctor")
    assert code == 10
    assert "webhook secret (voiceprint/pyannote-webhook-secret): ResourceNotFoundException" in out
