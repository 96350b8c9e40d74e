"""The backfill's adapters on moto (cli/voiceprint_cli/backfill_aws.py): the listing of newest versions, the
inventory report, the record check and the queue; and a backfilled object through the real submit handler."""

from __future__ import annotations

import gzip
import json
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import quote

from tests.conftest import REGION, Aws, context
from voiceprint.object_ref import record_keys
from voiceprint.s3_notifications import parse
from voiceprint_cli.backfill import Backfill, Options, Report, StoredObject
from voiceprint_cli.backfill_aws import FileState, InputQueue, InventoryListing, TableRecords, VersionsListing
from voiceprint_local.audio_samples import wav_bytes
from voiceprint_local.emulator import Emulator


def _keys(listing: VersionsListing | InventoryListing, prefix: str, after: str | None = None) -> list[str]:
    return [o.key for page in listing.pages(prefix, after) for o in page.objects]


def test_the_listing_gives_each_keys_newest_version_and_skips_deleted_keys(aws: Aws) -> None:
    for n in range(7):
        aws.put(f"voiceprints/{n}.wav", b"one")
    newest, _ = aws.put("voiceprints/3.wav", b"two")  # a second version: only the newest counts
    aws.s3.delete_object(Bucket=aws.bucket, Key="voiceprints/5.wav")  # a delete marker is the newest: gone
    aws.put("elsewhere/x.wav", b"x")
    listing = VersionsListing(aws.s3, aws.bucket, page_size=2)
    objects = [o for page in listing.pages("voiceprints/", None) for o in page.objects]
    assert [o.key for o in objects] == [f"voiceprints/{n}.wav" for n in (0, 1, 2, 3, 4, 6)]
    assert next(o for o in objects if o.key == "voiceprints/3.wav").version_id == newest
    assert _keys(listing, "voiceprints/", "voiceprints/3.wav") == ["voiceprints/4.wav", "voiceprints/6.wav"]


def test_the_sweeps_listing_gives_every_version_of_keys_that_are_not_gone(aws: Aws) -> None:
    """An older version's message can expire too, and each version is an object of its own to the pipeline."""
    first, _ = aws.put("voiceprints/a.wav", b"one")
    second, _ = aws.put("voiceprints/a.wav", b"two")
    aws.put("voiceprints/b.wav", b"one")
    aws.put("voiceprints/b.wav", b"two")
    aws.s3.delete_object(Bucket=aws.bucket, Key="voiceprints/b.wav")  # gone: none of its versions is swept back
    only, _ = aws.put("voiceprints/c.wav", b"one")
    for page_size in (1, 2, 1000):  # a key's versions and its delete marker split over pages or not
        listing = VersionsListing(aws.s3, aws.bucket, page_size=page_size, every_version=True)
        found = sorted((o.key, o.version_id) for page in listing.pages("voiceprints/", None) for o in page.objects)
        assert found == sorted(
            [("voiceprints/a.wav", first), ("voiceprints/a.wav", second), ("voiceprints/c.wav", only)]
        ), page_size


def test_records_are_found_by_the_keys_the_submit_function_writes(aws: Aws) -> None:
    objects = [
        StoredObject(f"voiceprints/{n}.wav", f"v{n}", 3, "etag", 0.0, f"voiceprints/{n}.wav") for n in range(150)
    ]
    for n in (7, 120):
        keys = record_keys(aws.bucket, f"voiceprints/{n}.wav", f"v{n}")
        aws.ddb.put_item(TableName=aws.table, Item={k: {"S": v} for k, v in keys.items()})
    unversioned = StoredObject("voiceprints/u.wav", None, 3, "abc", 0.0, "voiceprints/u.wav")
    keys = record_keys(aws.bucket, "voiceprints/u.wav", "etag:abc")
    aws.ddb.put_item(TableName=aws.table, Item={k: {"S": v} for k, v in keys.items()})
    missing = TableRecords(aws.ddb, aws.table).missing(aws.bucket, [*objects, unversioned])
    assert [o.key for o in missing] == [
        o.key for o in objects if o.key not in ("voiceprints/7.wav", "voiceprints/120.wav")
    ]


def test_a_sweep_also_finds_records_left_unfinished_since_their_message_expired(aws: Aws) -> None:
    """A claimed object whose message expired while it waited for the rate limit stays `retrying`, and one whose
    invocation died after the claim stays `submitting`, with nothing to bring it back: the sweep counts it as
    missing once unchanged (and its lease over) for --older-than (a backfill does not)."""
    objects = [StoredObject(f"voiceprints/{n}.wav", f"v{n}", 3, "etag", 0.0, f"voiceprints/{n}.wav") for n in range(7)]
    states = {
        0: ("succeeded", 100, None),
        1: ("retrying", 100, None),
        2: ("retrying", 5_000, None),
        4: ("submitting", 100, 200),  # claimed by an invocation that died, its lease long over
        5: ("submitting", 100, 5_000),  # a lease still running: its invocation may yet record the job
        6: ("submitted", 100, None),  # a job to wait for: the webhook or the reconciler settles it
    }
    for n, (status, updated, lease) in states.items():
        keys = record_keys(aws.bucket, f"voiceprints/{n}.wav", f"v{n}")
        item = {**{k: {"S": v} for k, v in keys.items()}, "status": {"S": status}, "updatedAt": {"N": str(updated)}}
        if lease is not None:
            item["leaseUntil"] = {"N": str(lease)}
        aws.ddb.put_item(TableName=aws.table, Item=item)
    records = TableRecords(aws.ddb, aws.table)
    assert [o.key for o in records.missing(aws.bucket, objects)] == ["voiceprints/3.wav"]
    swept = records.missing(aws.bucket, objects, stale_before=1_000)
    assert [o.key for o in swept] == ["voiceprints/1.wav", "voiceprints/3.wav", "voiceprints/4.wav"]


def test_queued_messages_are_s3_notifications_the_submit_function_parses(aws: Aws) -> None:
    queue = InputQueue(aws.sqs, aws.queue_url, REGION, clock=lambda: 1_800_000_000.0)
    obj = StoredObject("voiceprints/team a/Zoë+1.wav", "v-1", 1234, "e1", 0.0, "x")
    queue.send(aws.bucket, [obj])
    assert queue.backlog() == 1
    body = aws.sqs.receive_message(QueueUrl=aws.queue_url)["Messages"][0]["Body"]
    [note] = parse(body) or []
    assert (note.bucket, note.key, note.version_id, note.size, note.created) == (
        aws.bucket,
        obj.key,
        "v-1",
        1234,
        True,
    )
    assert json.loads(body)["Records"][0]["eventName"] == "ObjectCreated:Backfill"
    assert queue.retention_seconds() > 0


def test_the_inventory_report_is_read_with_its_encoded_keys_and_resumes_by_file_and_row(aws: Aws) -> None:
    rows = [
        (aws.bucket, "voiceprints/a b.wav", "v1", "true", "false", "10", "2026-01-01T00:00:00.000Z", "e1"),
        (aws.bucket, "voiceprints/a b.wav", "v0", "false", "false", "10", "2025-01-01T00:00:00.000Z", "e0"),
        (aws.bucket, "voiceprints/gone.wav", "v2", "true", "true", "0", "2026-01-01T00:00:00.000Z", ""),
        (aws.bucket, "voiceprints/é.wav", "v3", "true", "false", "10", "2026-01-01T00:00:00.000Z", "e3"),
        (aws.bucket, "identify/x.wav", "v4", "true", "false", "10", "2026-01-01T00:00:00.000Z", "e4"),
    ]

    def csv_gz(part: Sequence[tuple[str, ...]]) -> bytes:
        lines = [",".join(f'"{quote(v) if i == 1 else v}"' for i, v in enumerate(r)) for r in part]
        return gzip.compress(("\n".join(lines) + "\n").encode())

    aws.s3.put_object(Bucket=aws.bucket, Key="inv/data/1.csv.gz", Body=csv_gz(rows[:3]))
    aws.s3.put_object(Bucket=aws.bucket, Key="inv/data/2.csv.gz", Body=csv_gz(rows[3:]))
    manifest = {
        "sourceBucket": aws.bucket,
        "destinationBucket": f"arn:aws:s3:::{aws.bucket}",
        "fileFormat": "CSV",
        "fileSchema": "Bucket, Key, VersionId, IsLatest, IsDeleteMarker, Size, LastModifiedDate, ETag",
        "files": [{"key": "inv/data/1.csv.gz"}, {"key": "inv/data/2.csv.gz"}],
    }
    aws.s3.put_object(Bucket=aws.bucket, Key="inv/manifest.json", Body=json.dumps(manifest).encode())
    listing = InventoryListing(aws.s3, f"s3://{aws.bucket}/inv/manifest.json")
    pages = list(listing.pages("voiceprints/", None))
    found = [o for p in pages for o in p.objects]
    assert [(o.key, o.version_id) for o in found] == [("voiceprints/a b.wav", "v1"), ("voiceprints/é.wav", "v3")]
    assert _keys(listing, "voiceprints/", found[0].position) == ["voiceprints/é.wav"]
    assert _keys(listing, "voiceprints/", pages[0].resume_after) == ["voiceprints/é.wav"]


def test_the_state_file_resumes_only_the_same_listing(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    identity = {"bucket": "b", "prefixes": ["voiceprints/"], "inventory": None}
    FileState(path, identity).save("voiceprints/", "voiceprints/k.wav", finished=False, report=Report())
    assert FileState(path, identity).position("voiceprints/") == "voiceprints/k.wav"
    assert FileState(path, {**identity, "prefixes": ["identify/"]}).position("voiceprints/") is None


def test_a_backfilled_object_is_submitted_once_and_a_second_backfill_finds_its_record(
    load_handler, aws: Aws, emulator: Emulator
) -> None:
    version, _ = aws.put("old.wav", wav_bytes(2.0, "alice"))  # these tests' functions have no voiceprint prefix
    queue = InputQueue(aws.sqs, aws.queue_url, REGION)

    class Memory:
        def position(self, prefix: str) -> None:
            return None

        def finished(self, prefix: str) -> bool:
            return False

        def save(self, *args: object, **kwargs: object) -> None:
            pass

    def backfill() -> Report:
        service = Backfill(VersionsListing(aws.s3, aws.bucket), TableRecords(aws.ddb, aws.table), queue, Memory())
        return service.run(Options(bucket=aws.bucket, prefixes=[""]))

    assert backfill().enqueued == 1
    app = load_handler("submit")
    messages = aws.sqs.receive_message(QueueUrl=aws.queue_url, MaxNumberOfMessages=10)["Messages"]
    records = [
        {
            "messageId": m["MessageId"],
            "receiptHandle": m["ReceiptHandle"],
            "body": m["Body"],
            "attributes": {"ApproximateReceiveCount": "1"},
            "eventSourceARN": aws.queue_arn,
        }
        for m in messages
    ]
    assert app.lambda_handler({"Records": records}, context("submit")) == {"batchItemFailures": []}
    [item] = aws.items()
    assert (item["objectKey"], item["versionId"], item["status"]) == ("old.wav", version, "submitted")
    assert len(emulator.jobs) == 1
    for m in messages:
        aws.sqs.delete_message(QueueUrl=aws.queue_url, ReceiptHandle=m["ReceiptHandle"])
    again = backfill()
    assert (again.recorded, again.enqueued) == (1, 0)
