"""Issue 18, item 4: one oversized or refused event neither blocks the stream nor loses its neighbours, and the
events of a range of records can be published again from the table. The real events handler on moto, whose
PutEvents refuses requests over 256 KB as EventBridge does (tests/conftest.py), observed through a queue on the bus.
"""

from __future__ import annotations

import copy
import json
import time
from typing import Any

import boto3

from tests.conftest import REGION, Aws, context, load_event, s3_sqs_event
from tests.integration.test_webhook_handler import _invoke, webhook_event
from voiceprint.event_publisher import EventPublisher, Pending
from voiceprint_cli.__main__ import main
from voiceprint_local.audio_samples import wav_bytes

STREAM = load_event("dynamodb_stream_terminal_and_expired.json")


def _observer(aws: Aws) -> str:
    events = boto3.client("events", region_name=REGION)
    queue_url = str(aws.sqs.create_queue(QueueName="observer")["QueueUrl"])
    arn = aws.sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name="all", EventPattern=json.dumps({"source": ["voiceprint-pipeline"]}))
    events.put_targets(Rule="all", Targets=[{"Id": "q", "Arn": arn}])
    return queue_url


def _received(aws: Aws, queue_url: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for _ in range(100):  # bounded
        batch = aws.sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
        if not batch:
            return out
        out += [json.loads(m["Body"]) for m in batch]
    return out


def _terminal(n: int, **image: dict[str, str]) -> dict[str, Any]:
    """The sample's terminal MODIFY record, as record `n` of its stream, with these attributes."""
    record: dict[str, Any] = copy.deepcopy(STREAM["Records"][0])
    new = record["dynamodb"]["NewImage"]
    new.update(objectKey={"S": f"voiceprints/speaker-{n}.wav"}, sk={"S": f"VER#v{n}"}, **image)
    record["dynamodb"]["Keys"]["sk"] = {"S": f"VER#v{n}"}
    record["dynamodb"]["SequenceNumber"] = str(1000 + n)
    return record


def test_an_event_with_a_300_kb_reason_does_not_take_its_neighbours(load_handler, aws: Aws) -> None:
    queue_url = _observer(aws)
    failed = {"status": {"S": "failed"}, "failureCode": {"S": "job_failed"}, "reason": {"S": "r" * 300_000}}
    records = [_terminal(1), _terminal(2, **failed), _terminal(3)]
    assert load_handler("events").lambda_handler({"Records": records}, context()) == {"batchItemFailures": []}
    got = sorted((e["detail"]["key"], e["detail"].get("truncated", False)) for e in _received(aws, queue_url))
    assert got == [
        ("voiceprints/speaker-1.wav", False),
        ("voiceprints/speaker-2.wav", True),
        ("voiceprints/speaker-3.wav", False),
    ]


def test_each_published_failure_is_counted_by_its_code_for_the_dashboard(load_handler, aws: Aws, capsys) -> None:
    _observer(aws)
    records = [
        _terminal(1),
        _terminal(2, status={"S": "failed"}, failureCode={"S": "too_long"}, reason={"S": "31 s"}),
        _terminal(3, status={"S": "failed"}, failureCode={"S": "job_failed"}, reason={"S": "vendor"}),
        _terminal(4, status={"S": "failed"}, failureCode={"S": "too_long"}, reason={"S": "45 s"}),
    ]
    capsys.readouterr()
    assert load_handler("events").lambda_handler({"Records": records}, context()) == {"batchItemFailures": []}
    emf = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"FailuresByCode"' in line]
    counted = sorted(m["failureCode"] for m in emf)
    assert counted == ["job_failed", "too_long", "too_long"]
    assert emf[0]["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["failureCode", "service"]]


def test_events_are_batched_by_bytes_as_well_as_by_count(load_handler, aws: Aws) -> None:
    queue_url = _observer(aws)
    # Ten failures with a 30 KB reason each (written before reasons were capped): 10 entries, 300 KB.
    big = {"status": {"S": "failed"}, "failureCode": {"S": "job_failed"}, "reason": {"S": "r" * 30_000}}
    records = [_terminal(n, **big) for n in range(10)]
    assert load_handler("events").lambda_handler({"Records": records}, context()) == {"batchItemFailures": []}
    details = [e["detail"] for e in _received(aws, queue_url)]
    assert len(details) == 10
    assert all(len(d["reason"]) == 30_000 for d in details)  # whole, not stubbed: they only needed two requests


class RefusingBus:
    """An in-memory EventBridge that refuses, for good, any entry whose detail contains `poison`."""

    def __init__(self, throttle: bool = False) -> None:
        self.published: list[dict[str, Any]] = []
        self.throttle = throttle

    def put_events(self, Entries: list[dict[str, Any]]) -> dict[str, Any]:
        results = []
        for entry in Entries:
            if "poison" in entry["Detail"]:
                results.append({"ErrorCode": "ThrottlingException" if self.throttle else "MalformedDetail"})
            else:
                self.published.append(entry)
                results.append({"EventId": str(len(self.published))})
        return {"FailedEntryCount": sum("ErrorCode" in r for r in results), "Entries": results}


def _pending(n: int, **detail: Any) -> Pending:
    base = {"schemaVersion": 1, "kind": "voiceprint", "status": "failed", "key": f"k{n}", "jobId": f"j{n}"}
    return Pending(str(n), "Voiceprint Failed", {**base, **detail})


def test_an_entry_refused_for_good_is_replaced_by_its_stub() -> None:
    bus = RefusingBus()
    publisher = EventPublisher(bus, "b")  # type: ignore[arg-type]
    assert publisher.put([_pending(1), _pending(2, reason="poison"), _pending(3)]) is None
    details = sorted((json.loads(e["Detail"]) for e in bus.published), key=lambda d: str(d["key"]))
    assert [d["key"] for d in details] == ["k1", "k2", "k3"]  # EventBridge keeps no order anyway
    assert details[1] == {
        "schemaVersion": 1,
        "kind": "voiceprint",
        "status": "failed",
        "key": "k2",
        "jobId": "j2",
        "truncated": True,
    }


def test_a_throttled_entry_is_retried_from_the_stream_not_stubbed() -> None:
    bus = RefusingBus(throttle=True)
    publisher = EventPublisher(bus, "b")  # type: ignore[arg-type]
    failed = publisher.put([_pending(1), _pending(2, reason="poison"), _pending(3)])
    assert failed is not None
    assert failed.sequence == "2"


def test_replay_publishes_the_events_of_a_range_of_records_again(load_handler, aws: Aws, emulator) -> None:
    for name in ("a", "b"):
        version, size = aws.put(f"{name}.wav", wav_bytes(1.0, "alice", seed=ord(name)))
        load_handler("submit").lambda_handler(s3_sqs_event(aws, f"{name}.wav", size, version), context())
    for job in list(emulator.jobs.values()):
        emulator.complete_job(job.id, "failed", {"error": "no speech"}, webhook=False)
    for record in aws.items():
        body = {"jobId": record["jobId"], "status": "failed", "output": {"error": "no speech"}}
        _invoke(
            load_handler("webhook"),
            webhook_event("webhook_status_only.json", job_id=record["jobId"], ref=None, body=body),
        )
    queue_url = _observer(aws)
    out: list[str] = []

    class Out:
        def write(self, text: str) -> None:
            out.append(text)

    now = time.time()
    argv = [
        "--region",
        REGION,
        "replay-events",
        "--since",
        str(now - 60),
        "--until",
        str(now + 60),
        "--table",
        aws.table,
        "--bus",
        "default",
    ]
    assert main(argv, out=Out()) == 0  # type: ignore[arg-type]
    assert "2 events published" in "".join(out)
    replayed = _received(aws, queue_url)
    assert sorted(e["detail"]["key"] for e in replayed) == ["a.wav", "b.wav"]
    assert all(e["detail-type"] == "Voiceprint Failed" for e in replayed)
    # Outside the range, nothing.
    assert main([*argv[:3], "--since", "0", "--until", "1", *argv[7:]], out=Out()) == 0  # type: ignore[arg-type]
    assert _received(aws, queue_url) == []
