"""The review queue on the table as the template defines it: a grey-band identification joins the byReview index
when its outcome is applied, decisions are kept on the record, and it leaves the queue when every speaker has one."""

from __future__ import annotations

import json

import pytest

from tests.conftest import Aws
from voiceprint.ddb_update import to_ddb
from voiceprint.job_state import outcome_from_job
from voiceprint.job_store import JobStore
from voiceprint.object_ref import record_keys
from voiceprint.record_queries import RecordQueries
from voiceprint.review import Decision, ReviewBand
from voiceprint.review_store import ReviewConflict, ReviewStore
from voiceprint_cli import review_queue

BAND = ReviewBand(40, 70)
OUTPUT = {
    "identification": [
        {"speaker": "dave", "diarizationSpeaker": "S0", "match": "dave", "start": 0.0, "end": 4.0},
        {"speaker": "S1", "diarizationSpeaker": "S1", "match": None, "start": 4.0, "end": 7.5},
        {"speaker": "S2", "diarizationSpeaker": "S2", "match": None, "start": 7.5, "end": 9.0},
        {"speaker": "S1", "diarizationSpeaker": "S1", "match": None, "start": 9.0, "end": 12.25},
    ],
    "voiceprints": [
        {"speaker": "S0", "match": "dave", "confidence": {"dave": 94, "carol": 20}},
        {"speaker": "S1", "match": None, "confidence": {"dave": 12, "carol": 58}},
        {"speaker": "S2", "match": None, "confidence": {"dave": 41, "carol": 39}},
    ],
}


def _identification(aws: Aws, key: str, job_id: str, completed: int, band: ReviewBand | None = BAND) -> None:
    keys = record_keys(aws.bucket, key, "v1")
    item: dict[str, object] = {
        **keys,
        "bucket": aws.bucket,
        "objectKey": key,
        "versionId": "v1",
        "kind": "identify",
        "group": "team-a/",
    }
    item |= {"status": "submitted", "vendorStatus": "running", "jobId": job_id, "submittedAt": completed - 5}
    aws.ddb.put_item(TableName=aws.table, Item=to_ddb(item))
    store = JobStore(aws.ddb, aws.table, retention_days=30)
    store.apply_outcome(keys, job_id, outcome_from_job("succeeded", OUTPUT, band), now=completed)


def test_a_grey_band_identification_waits_until_each_speaker_is_decided(aws: Aws) -> None:
    queries, decisions = RecordQueries(aws.ddb, aws.table), ReviewStore(aws.ddb, aws.table)
    _identification(aws, "identify/team-a/later.wav", "job-2", 1_800_000_100)
    _identification(aws, "identify/team-a/call.wav", "job-1", 1_800_000_000)
    _identification(aws, "identify/team-a/no-band.wav", "job-3", 1_800_000_200, band=None)  # not queued
    assert [r.job_id for r in review_queue.waiting(queries)] == ["job-1", "job-2"]  # oldest first
    assert [r.job_id for r in review_queue.waiting(queries, limit=1)] == ["job-1"]

    record = review_queue.record_of(queries, "job-1")
    assert [(w.speaker, w.best, w.score, w.match) for w in review_queue.speakers(record)] == [
        ("S1", "carol", 58.0, None),
        ("S2", "dave", 41.0, None),
    ]
    assert review_queue.segments(review_queue.inline_result(record) or {}, "S1") == [(4.0, 7.5), (9.0, 12.25)]

    once = review_queue.decide(decisions, record, "S1", Decision.CONFIRMED, label=None, by="ops", now=1_800_000_300)
    assert once.review_queue == "pending"  # S2 still waits
    with pytest.raises(ReviewConflict):  # decided on what it read before S1's decision: told to read again
        review_queue.decide(decisions, record, "S2", Decision.REJECTED, label=None, by="other", now=1_800_000_301)
    with pytest.raises(review_queue.ReviewError):
        review_queue.decide(decisions, once, "S0", Decision.REJECTED, label=None, by="ops", now=1_800_000_302)
    done = review_queue.decide(decisions, once, "S2", Decision.RELABELLED, label="erin", by="ops", now=1_800_000_303)
    assert done.review_queue is None
    assert json.loads(done.reviews or "") == {
        "S1": {"decision": "confirmed", "label": "carol", "by": "ops", "at": 1_800_000_300},
        "S2": {"decision": "relabelled", "label": "erin", "by": "ops", "at": 1_800_000_303},
    }
    assert [r.job_id for r in review_queue.waiting(queries)] == ["job-2"]
    assert (done.status, done.matches) == (record.status, record.matches)  # the outcome itself never changes
