"""`voiceprint retention` (cli/voiceprint_cli/retention.py): voiceprints made before an update get the stack's
VoiceprintRetentionDays. The same behaviours on an in-memory fake and on the table in moto."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import pytest

from tests.conftest import Aws
from voiceprint.job_state import Outcome, Status, outcome_from_job
from voiceprint.job_store import JobStore
from voiceprint.object_ref import ObjectRef
from voiceprint_cli.retention import BucketSources, Kept, Sources, TableVoiceprints, VoiceprintRecords, apply

NOW = 1_800_000_000
DAY = 86400


class FakeVoiceprints:
    def __init__(self) -> None:
        self.expiry: dict[tuple[str, str], int | None] = {}
        self.made: dict[tuple[str, str], int] = {}
        self.sources: dict[tuple[str, str], tuple[str, str]] = {}  # record -> (key, version)
        self.gone_sources: set[tuple[str, str | None]] = set()

    def pages(self) -> Iterator[Sequence[Kept]]:
        yield [Kept(pk, sk, made, "input", *self.sources[(pk, sk)]) for (pk, sk), made in self.made.items()]

    def delete(self, record: Kept) -> bool:
        return self.made.pop((record.pk, record.sk), None) is not None

    def gone(self, bucket: str, key: str, version_id: str | None) -> bool:
        return (key, version_id) in self.gone_sources or (key, None) in self.gone_sources

    def set_expiry(self, record: Kept, expires_at: int | None) -> bool:
        key = (record.pk, record.sk)
        if key not in self.expiry or self.expiry[key] == expires_at:
            return False
        self.expiry[key] = expires_at
        return True


class Table:
    """Voiceprints (and a failed record) made as the stack makes them, with the old 30-day TTL; and their TTLs."""

    def __init__(self, adapter: str, request: pytest.FixtureRequest) -> None:
        self.adapter = adapter
        self.made_keys: dict[str, tuple[str, str]] = {}  # name -> (key, version)
        if adapter == "fake":
            self.fake = FakeVoiceprints()
            self.records: VoiceprintRecords = self.fake
            return
        self.aws: Aws = request.getfixturevalue("aws")
        self.store = JobStore(self.aws.ddb, self.aws.table, retention_days=30, voiceprint_retention_days=30)
        self.records = TableVoiceprints(self.aws.ddb, self.aws.table)

    @property
    def sources(self) -> Sources:
        return self.fake if self.adapter == "fake" else BucketSources(self.aws.s3)

    def remove_source(self, name: str, *, version_only: bool) -> None:
        """The source deleted: its version, or the key (a delete marker), with no notification reaching us."""
        key, version = self.made_keys[name]
        if self.adapter == "fake":
            self.fake.gone_sources.add((key, version if version_only else None))
        elif version_only:
            self.aws.s3.delete_object(Bucket=self.aws.bucket, Key=key, VersionId=version)
        else:
            self.aws.s3.delete_object(Bucket=self.aws.bucket, Key=key)

    def exists(self, keys: tuple[str, str]) -> bool:
        if self.adapter == "fake":
            return keys in self.fake.made
        item = self.aws.ddb.get_item(TableName=self.aws.table, Key={"pk": {"S": keys[0]}, "sk": {"S": keys[1]}})
        return "Item" in item

    def made(self, name: str, *, voiceprint: bool = True) -> tuple[str, str]:
        key = f"voiceprints/team/{name}.wav"
        version = "v1" if self.adapter == "fake" else self.aws.put(key, b"RIFF")[0]
        self.made_keys[name] = (key, version)
        bucket = "input" if self.adapter == "fake" else self.aws.bucket
        ref = ObjectRef(bucket, key, 1000, version, version, '"etag"')
        keys = ref.record_keys
        if self.adapter == "fake":
            if voiceprint:  # only voiceprints are listed (the byGroup index)
                self.fake.made[(keys["pk"], keys["sk"])] = NOW
                self.fake.expiry[(keys["pk"], keys["sk"])] = NOW + 30 * DAY
                self.fake.sources[(keys["pk"], keys["sk"])] = (key, version)
            return keys["pk"], keys["sk"]
        claim = self.store.claim(ref, now=NOW, lease_seconds=60, group="team/")
        assert claim is not None
        self.store.record_submitted(
            ref, claim, job_id=f"job-{name}", vendor_status="created", warning=None, now=NOW, details={"label": name}
        )
        outcome = Outcome("succeeded", Status.SUCCEEDED, voiceprint="VP") if voiceprint else None
        self.store.apply_outcome(keys, f"job-{name}", outcome or outcome_from_job("failed", {"error": "x"}), now=NOW)
        return keys["pk"], keys["sk"]

    def expiry(self, keys: tuple[str, str]) -> int | None:
        if self.adapter == "fake":
            return self.fake.expiry[keys]
        item = self.aws.ddb.get_item(TableName=self.aws.table, Key={"pk": {"S": keys[0]}, "sk": {"S": keys[1]}})
        found: Any = item["Item"].get("expiresAt")
        return int(found["N"]) if found else None


@pytest.fixture(params=["fake", "dynamodb"])
def table(request: pytest.FixtureRequest) -> Table:
    return Table(request.param, request)


def test_voiceprints_made_before_are_kept_as_long_as_their_source_once_applied(table: Table) -> None:
    alice, bob = table.made("alice"), table.made("bob")
    report = apply(table.records, 0)
    assert (report.voiceprints, report.changed) == (2, 2)
    assert (table.expiry(alice), table.expiry(bob)) == (None, None)
    again = apply(table.records, 0)
    assert (again.voiceprints, again.changed) == (2, 0)  # idempotent


def test_a_number_of_days_counts_from_when_the_voiceprint_was_made_and_a_dry_run_changes_nothing(table: Table) -> None:
    alice = table.made("alice")
    dry = apply(table.records, 365, dry_run=True)
    assert (dry.voiceprints, table.expiry(alice)) == (1, NOW + 30 * DAY)
    assert "dry run" in dry.line()
    assert apply(table.records, 365).changed == 1
    assert table.expiry(alice) == NOW + 365 * DAY


def test_records_without_a_voiceprint_keep_their_ttl(table: Table) -> None:
    failed = table.made("carol", voiceprint=False)
    assert apply(table.records, 0).voiceprints == 0
    if table.adapter == "dynamodb":
        assert table.expiry(failed) == NOW + 30 * DAY


def test_with_check_sources_voiceprints_whose_source_is_gone_are_deleted(table: Table) -> None:
    """A removal notification that never arrived leaves a voiceprint kept "as long as its source" for ever: the
    check finds it, the version deleted or the key behind a delete marker, and deletes its record."""
    alice, bob, carol = table.made("alice"), table.made("bob"), table.made("carol")
    table.remove_source("alice", version_only=True)
    table.remove_source("bob", version_only=False)
    dry = apply(table.records, 0, dry_run=True, sources=table.sources)
    assert (dry.voiceprints, dry.orphans, table.exists(alice), table.exists(bob)) == (3, 2, True, True)
    assert "2 whose source is gone found (dry run" in dry.line()
    report = apply(table.records, 0, sources=table.sources)
    assert (report.orphans, report.changed) == (2, 1)  # carol's source is there: she only gets her TTL changed
    assert (table.exists(alice), table.exists(bob), table.exists(carol)) == (False, False, True)
    assert apply(table.records, 0, sources=table.sources).orphans == 0
