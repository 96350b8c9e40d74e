"""Per-label health (voiceprint/label_health_store.py): the same behaviours on the in-memory fake and on moto."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.fakes import FakeLabelHealth
from voiceprint.job_state import Kind, Status
from voiceprint.label_health_store import LabelHealthStore
from voiceprint.record import Record

NOW = 1_800_000_000


@pytest.fixture(params=["fake", "dynamodb"])
def health(request: pytest.FixtureRequest) -> Any:
    if request.param == "fake":
        return FakeLabelHealth(keep_days=30)
    aws: Any = request.getfixturevalue("aws")
    return LabelHealthStore(aws.ddb, aws.table, keep_days=30)


def _identification(group: str, at: int, candidates: tuple[str, ...], matches: list[tuple[str | None, Any]]) -> Record:
    summary = [{"speaker": f"SPEAKER_0{n}", "match": m, "confidence": c} for n, (m, c) in enumerate(matches)]
    return Record(
        pk=f"OBJ#{group}{at}",
        sk="VER#v1",
        status=Status.SUCCEEDED,
        kind=Kind.IDENTIFY,
        group=group,
        candidates=candidates,
        matches=json.dumps(summary),
        completed_at=at,
    )


def test_identifications_give_each_label_its_last_use_last_match_and_best_score(health: Any) -> None:
    health.observe(_identification("team/", NOW, ("alice", "bob"), [("alice", 81.5), (None, None)]), NOW)
    health.observe(_identification("team/", NOW + 60, ("alice", "bob", "carol"), [("alice", 64)]), NOW + 60)
    again = _identification("team/", NOW + 60, ("alice", "bob", "carol"), [("alice", 64)])
    health.observe(again, NOW + 61)  # the same identification twice (a redelivery): nothing changes
    health.observe(_identification("other/", NOW, ("alice",), [("mallory", 99)]), NOW)  # not a candidate: ignored
    found = {label: h.public() for label, h in health.labels("team/").items()}
    assert found == {
        "alice": {
            "label": "alice",
            "lastUsed": NOW + 60,
            "lastMatched": NOW + 60,
            "bestScore": 81.5,
            "neverMatched": False,
        },
        "bob": {"label": "bob", "lastUsed": NOW + 60, "lastMatched": None, "bestScore": None, "neverMatched": True},
        "carol": {"label": "carol", "lastUsed": NOW + 60, "lastMatched": None, "bestScore": None, "neverMatched": True},
    }
    assert {label: h.last_matched for label, h in health.labels("other/").items()} == {"alice": None}
    assert health.labels("nobody/") == {}


def test_entries_unused_for_the_retention_age_out_and_erasure_forgets_a_label(health: Any) -> None:
    health.observe(_identification("team/", NOW, ("alice", "bob"), [("bob", 70)]), NOW)
    later = NOW + 31 * 86400
    health.observe(_identification("team/", later, ("alice",), []), later)
    assert sorted(health.labels("team/")) == ["alice"]  # bob unused for 31 days: gone, as the identification is
    health.observe(_identification("other/", later, ("alice", "bob"), []), later)
    assert health.forget("alice", "team/") == 1
    assert sorted(health.labels("team/")) == []
    assert sorted(health.labels("other/")) == ["alice", "bob"]
    assert health.forget("alice", None) == 1  # every group: only other/ still had her
    assert health.forget("alice", None) == 0
    assert sorted(health.labels("other/")) == ["bob"]


class _Racing:
    """A DynamoDB client whose first read is followed by another writer's rewrite of the same item."""

    def __init__(self, ddb: Any, rival: LabelHealthStore) -> None:
        self._ddb, self._rival, self.raced = ddb, rival, False

    def get_item(self, **kwargs: Any) -> Any:
        answer = self._ddb.get_item(**kwargs)
        if not self.raced:
            self.raced = True
            self._rival.observe(_identification("team/", NOW, ("bob",), [("bob", 90)]), NOW)
        return answer

    def __getattr__(self, name: str) -> Any:
        return getattr(self._ddb, name)


def test_a_concurrent_rewrite_is_not_lost(aws: Any) -> None:
    """Two settlements of one group's identifications at once: the later rewrite reads again, keeping both."""
    rival = LabelHealthStore(aws.ddb, aws.table, keep_days=30)
    racing = _Racing(aws.ddb, rival)
    LabelHealthStore(racing, aws.table, keep_days=30).observe(  # type: ignore[arg-type]
        _identification("team/", NOW, ("alice",), [("alice", 75)]), NOW
    )
    assert racing.raced
    found = rival.labels("team/")
    assert {label: h.best_score for label, h in found.items()} == {"alice": 75.0, "bob": 90.0}
