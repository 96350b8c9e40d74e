"""Each group's calibrated threshold (voiceprint/calibration_store.py): the same behaviours on the in-memory fake
the services' tests use and on moto."""

from __future__ import annotations

from typing import Any

import pytest

from tests.fakes import FakeThresholds
from voiceprint.calibration_store import Calibration, CalibrationStore


@pytest.fixture(params=["fake", "dynamodb"])
def calibrations(request: pytest.FixtureRequest) -> Any:
    if request.param == "fake":
        return FakeThresholds()
    aws: Any = request.getfixturevalue("aws")
    return CalibrationStore(aws.ddb, aws.table)


def test_a_group_has_no_threshold_until_one_is_stored(calibrations: Any) -> None:
    assert calibrations.threshold("team/") is None
    assert calibrations.get("team/") is None
    assert calibrations.remove("team/") is False


def test_a_stored_threshold_is_the_groups_alone_and_replaced_by_the_next(calibrations: Any) -> None:
    calibrations.put(Calibration("team/", 82, 1.0, 2 / 3, 6, 1_700_000_000))
    calibrations.put(Calibration("", 75, None, None, 0, 1_700_000_001))  # the top level: an empty group
    assert calibrations.threshold("team/") == 82
    assert calibrations.threshold("") == 75
    assert calibrations.threshold("team/sub/") is None  # a group is its folder, not its parent's
    assert calibrations.get("team/") == Calibration("team/", 82, 1.0, 0.6667, 6, 1_700_000_000)
    assert calibrations.get("") == Calibration("", 75, None, None, 0, 1_700_000_001)
    calibrations.put(Calibration("team/", 85, 1.0, 0.5, 8, 1_700_000_100))
    assert calibrations.threshold("team/") == 85


def test_removing_a_threshold_goes_back_to_the_stacks(calibrations: Any) -> None:
    calibrations.put(Calibration("team/", 82, 1.0, 1.0, 3, 1))
    assert calibrations.remove("team/") is True
    assert calibrations.threshold("team/") is None
    assert calibrations.remove("team/") is False
