"""The local stack's faster clock for moto's SQS model gives the same values as moto's own."""

from __future__ import annotations

import datetime
import time

import moto.sqs.models as sqs_models
from moto.core.utils import unix_time, unix_time_millis

from voiceprint_local.moto_patches import speed_up_sqs_clock as _speed_up_moto_sqs


def test_same_clock_values_and_idempotent() -> None:
    _speed_up_moto_sqs()
    _speed_up_moto_sqs()  # every stack start applies it: wrapping twice must not stack wrappers
    fast = vars(sqs_models)
    assert fast["unix_time"] is not unix_time
    assert abs(fast["unix_time"]() - unix_time()) < 0.5
    assert abs(fast["unix_time_millis"]() - unix_time_millis()) < 500
    assert abs(fast["unix_time"]() - time.time()) < 0.5
    when = datetime.datetime(2026, 11, 25, 12, 0, 0)
    assert fast["unix_time"](when) == unix_time(when)
    assert fast["unix_time"].__wrapped__ is unix_time
