"""Issue 18, item 6: money is finite. Per group and day, jobs and audio seconds; per stack and day, audio
seconds; identical identifications within the window are not paid twice. The real submit handler on moto against
the emulator, the budget set through the function's environment as the template sets it."""

from __future__ import annotations

from typing import Any

from boto3.dynamodb.types import TypeSerializer

from tests.conftest import Aws, context, s3_sqs_event
from tests.integration.test_webhook_handler import _invoke, webhook_event
from voiceprint import change_events
from voiceprint_local.audio_samples import wav_bytes
from voiceprint_local.emulator import Emulator

VOICE = wav_bytes(1.0, "alice")


def _posts(emulator: Emulator) -> int:
    return emulator.stats.requests["POST /v1/voiceprint"] + emulator.stats.requests["POST /v1/identify"]


def _records(aws: Aws) -> dict[str, dict[str, Any]]:
    return {r["objectKey"]: r for r in aws.items() if "objectKey" in r}


def _upload(submit: Any, aws: Aws, key: str, data: bytes = VOICE) -> dict[str, Any]:
    version, size = aws.put(key, data)
    return dict(submit.lambda_handler(s3_sqs_event(aws, key, size, version), context()))


def test_a_groups_daily_job_quota_refuses_the_rest_unpaid(load_handler, aws, emulator: Emulator) -> None:
    submit = load_handler("submit", GROUP_DAILY_JOBS="2")
    for name in ("a", "b", "c"):
        _upload(submit, aws, f"team-a/{name}.wav")
    _upload(submit, aws, "team-b/d.wav")  # another group has its own quota
    assert _posts(emulator) == 3
    records = _records(aws)
    assert records["team-a/c.wav"]["status"] == "failed"
    assert records["team-a/c.wav"]["failureCode"] == "quota_exceeded"
    assert "group 'team-a/'" in records["team-a/c.wav"]["reason"]
    assert records["team-b/d.wav"]["status"] == "submitted"


def test_a_groups_daily_audio_seconds_are_a_quota_too(load_handler, aws, emulator: Emulator) -> None:
    submit = load_handler("submit", GROUP_DAILY_AUDIO_SECONDS="3")
    _upload(submit, aws, "team-a/one.wav", wav_bytes(2.0, "alice"))
    _upload(submit, aws, "team-a/two.wav", wav_bytes(2.0, "bob"))
    _upload(submit, aws, "team-a/short.wav", wav_bytes(1.0, "carol"))  # 2 + 1 <= 3: still fits
    assert _posts(emulator) == 2
    assert _records(aws)["team-a/two.wav"]["failureCode"] == "quota_exceeded"


def test_the_stack_wide_ceiling_holds_across_groups(load_handler, aws, emulator: Emulator) -> None:
    submit = load_handler("submit", STACK_DAILY_AUDIO_SECONDS="3")
    _upload(submit, aws, "team-a/one.wav", wav_bytes(2.0, "alice"))
    _upload(submit, aws, "team-b/two.wav", wav_bytes(2.0, "bob"))
    assert _posts(emulator) == 1
    record = _records(aws)["team-b/two.wav"]
    assert (record["failureCode"], "the stack" in record["reason"]) == ("quota_exceeded", True)


def test_a_retried_submission_is_charged_once(load_handler, aws, emulator: Emulator) -> None:
    submit = load_handler("submit", GROUP_DAILY_JOBS="1")
    emulator.script("/v1/voiceprint", (503, {"message": "busy"}, {}))
    version, size = aws.put("team-a/a.wav", VOICE)
    for attempt in (1, 2):  # the 503, then the message back after its delay
        submit.lambda_handler(s3_sqs_event(aws, "team-a/a.wav", size, version, receive_count=attempt), context())
    assert _records(aws)["team-a/a.wav"]["status"] == "submitted"
    assert _posts(emulator) == 2  # the 503 was not a job; the one charge covered the retry
    [counter] = [i for i in aws.all_items() if i["pk"] == "BUDGET#g#team-a/"]
    assert counter["jobs"] == 1
    _upload(submit, aws, "team-a/b.wav")  # the quota of 1 is spent by the one charge
    assert _records(aws)["team-a/b.wav"]["failureCode"] == "quota_exceeded"


def test_copies_of_one_recording_are_identified_once(load_handler, aws: Aws, emulator: Emulator) -> None:
    submit = load_handler("submit")
    _upload(submit, aws, "voiceprints-for-dedup.wav")  # no group prefix in these tests: group ""
    for job in list(emulator.jobs.values()):
        emulator.complete_job(job.id, "succeeded", {"voiceprint": "vp-alice"}, webhook=False)
    [record] = _records(aws).values()
    body = {"jobId": record["jobId"], "status": "succeeded", "output": {"voiceprint": "vp-alice"}}
    _invoke(
        load_handler("webhook"), webhook_event("webhook_succeeded.json", job_id=record["jobId"], ref=None, body=body)
    )
    call = wav_bytes(2.0, "alice", seed=3)
    _upload(submit, aws, "identify/call.wav", call)
    for n in range(5):  # server-side copies: each an ObjectCreated, each the same content
        aws.s3.copy_object(
            Bucket=aws.bucket,
            Key=f"identify/copy-{n}.wav",
            CopySource={"Bucket": aws.bucket, "Key": "identify/call.wav"},
        )
        head = aws.s3.head_object(Bucket=aws.bucket, Key=f"identify/copy-{n}.wav")
        submit.lambda_handler(
            s3_sqs_event(aws, f"identify/copy-{n}.wav", head["ContentLength"], head["VersionId"]), context()
        )
    assert emulator.stats.requests["POST /v1/identify"] == 1
    records = _records(aws)
    for n in range(5):
        copy = records[f"identify/copy-{n}.wav"]
        assert copy["failureCode"] == "duplicate_request"
        assert "'identify/call.wav'" in copy["reason"]
    # Another recording is another request.
    _upload(submit, aws, "identify/other.wav", wav_bytes(2.0, "alice", seed=4))
    assert emulator.stats.requests["POST /v1/identify"] == 2


def test_budget_counters_are_no_ones_news(load_handler, aws: Aws, emulator: Emulator) -> None:
    """The counters share the table: the stream of their changes publishes nothing."""
    submit = load_handler("submit", GROUP_DAILY_JOBS="5")
    _upload(submit, aws, "team-a/a.wav")
    counters = [i for i in aws.all_items() if str(i["pk"]).startswith("BUDGET#")]
    assert {c["pk"] for c in counters} == {"BUDGET#g#team-a/", "BUDGET#stack"}
    ser = TypeSerializer()
    for counter in counters:
        image = {k: ser.serialize(v) for k, v in counter.items()}
        keys = {"pk": image["pk"], "sk": image["sk"]}
        for name, images in (("INSERT", {"NewImage": image}), ("REMOVE", {"OldImage": image})):
            assert change_events.events_for({"eventName": name, "dynamodb": {"Keys": keys, **images}}) == []
