"""The opt-out list (voiceprint/opt_out_list.py): the same behaviours on the in-memory fake and on moto."""

from __future__ import annotations

from typing import Any

import pytest

from tests.fakes import FakeOptOuts
from voiceprint.opt_out_list import EVERY_GROUP, OptOut, OptOutList


@pytest.fixture(params=["fake", "dynamodb"])
def opt_outs(request: pytest.FixtureRequest) -> Any:
    if request.param == "fake":
        return FakeOptOuts()
    aws: Any = request.getfixturevalue("aws")
    return OptOutList(aws.ddb, aws.table)


def test_a_label_is_opted_out_in_its_group_or_in_every_group(opt_outs: Any) -> None:
    opt_outs.add(OptOut("alice", "team-a/", "asked on 2026-11-27", 1))
    opt_outs.add(OptOut("Zoé", EVERY_GROUP, "", 2))
    assert opt_outs.labels("team-a/") == {"alice", "Zoé"}
    assert opt_outs.labels("team-b/") == {"Zoé"}
    assert sorted((o.label, o.group, o.reason) for o in opt_outs.entries()) == [
        ("Zoé", EVERY_GROUP, ""),
        ("alice", "team-a/", "asked on 2026-11-27"),
    ]


def test_a_removal_says_whether_the_label_was_listed(opt_outs: Any) -> None:
    opt_outs.add(OptOut("alice", "team-a/", "", 1))
    assert opt_outs.remove("alice", "team-b/") is False
    assert opt_outs.remove("alice", "team-a/") is True
    assert opt_outs.labels("team-a/") == frozenset()
