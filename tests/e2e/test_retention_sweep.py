"""Issue 14, scaled down: a backlog whose tail outlives the input queue's retention loses nothing, because a sweep
puts back what expired. The queue keeps a message 60 s (InputRetentionSeconds, its least), the limit drains 150
uploads in about 90 s, so the tail's messages expire in the queue (moto deletes them on receive, as SQS does,
without a trace); `voiceprint sweep --older-than 60`, run on a schedule by the test as an operator or a scheduled
job would, enqueues the objects that have no record by then, or whose record was left `retrying` since (claimed,
sent back for the limit, and expired before its turn)."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from voiceprint_cli.__main__ import main
from voiceprint_local.reliability import observe
from voiceprint_local.stack import LocalStack, StackOptions, running, wait_for

pytestmark = pytest.mark.e2e
RETENTION = 60
UPLOADS = 150


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    options = StackOptions(
        parameters={"InputRetentionSeconds": str(RETENTION)},
        emulator={"rate_limits": {"submit": 20}, "rate_window_seconds": 12.0, "processing_seconds": 0.2},
        env={"SUBMITS_PER_WINDOW": "20", "RATE_WINDOW_SECONDS": "12", "RETRY_BASE_SECONDS": "1"},
        log_level="WARNING",
        metrics=False,
    )
    with running(options) as local:
        yield local


def _sweep(stack: LocalStack) -> dict[str, object]:
    assert stack.api is not None
    out, err = io.StringIO(), io.StringIO()
    args = ["--local", "--aws-endpoint", stack.aws_url, "--api", stack.api.url, "--json"]
    code = main([*args, "sweep", "--older-than", str(RETENTION), "--max-backlog", "1000"], out=out, err=err)
    assert code == 0, err.getvalue()
    return dict(json.loads(out.getvalue()))


@pytest.mark.timeout(900)
def test_a_backlog_longer_than_the_queues_retention_loses_nothing_with_a_sweep(
    stack: LocalStack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert stack.resources is not None
    assert stack.emulator is not None
    retention = stack.client("sqs").get_queue_attributes(
        QueueUrl=stack.resources.queue_url, AttributeNames=["MessageRetentionPeriod"]
    )["Attributes"]["MessageRetentionPeriod"]
    assert retention == str(RETENTION)  # the parameter reached the queue
    clips = list(observe.clips().values())
    keys = [f"voiceprints/retention/{i:04d}.wav" for i in range(UPLOADS)]
    observe.upload_all(stack, [(k, clips[i % len(clips)]) for i, k in enumerate(keys)])
    swept: list[int] = []

    def done_or_sweep() -> bool:
        finished = sum(1 for r in stack.records(("objectKey", "status")) if r.get("status") == "succeeded")
        if finished >= UPLOADS:
            return True
        swept.append(int(str(_sweep(stack)["enqueued"])))
        return False

    assert wait_for(done_or_sweep, timeout=600, interval=15.0), swept
    records = {r["objectKey"]: r for r in stack.records(("objectKey", "status", "attempts"))}
    assert all(records[k]["status"] == "succeeded" for k in keys)
    assert sum(swept) > 0  # the tail's messages did expire: without the sweep these objects had no record
    per_object = {k: v for k, v in stack.emulator.stats.submissions_by_url.items() if "/retention/" in k}
    assert sorted(per_object.values()) == [1] * UPLOADS  # each billed once, sweep or not
    assert stack.dead_letters() == []
