"""Scheduled (EventBridge) -> poll jobs that got no webhook and settle them."""

from __future__ import annotations

from voiceprint import container_init

_collector_paused = container_init.begin()  # before the imports and clients it speeds up: see its module

import time
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.utilities.typing import LambdaContext

from voiceprint import wiring
from voiceprint.reconcile_service import ReconcileService
from voiceprint.settings import get_settings

logger = Logger()
metrics = Metrics()

settings = get_settings().require("table_name", "api_key_secret_id")


def build_service(*, clock: Callable[[], float] = time.time) -> ReconcileService:
    """The service as this function runs it; the tests pass their own clock (the seam, instead of patching)."""
    dynamodb = wiring.dynamodb()
    return ReconcileService(
        settings=settings,
        store=wiring.job_store(settings, dynamodb),
        client=wiring.pyannote_client(settings, wiring.secretsmanager()),
        results=wiring.result_store(settings),
        clock=clock,
        allowance=wiring.read_allowance(settings, dynamodb),
        health=wiring.label_health(settings, dynamodb),
    )


service = build_service()


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    report = service.run()
    return {
        "examined": report.examined,
        "polled": report.polled,
        "settled": report.settled,
        "stillRunning": report.still_running,
        "errors": report.errors,
        "throttled": report.throttled,
        "oldestPendingSeconds": report.oldest_pending_seconds,
    }


container_init.finish(_collector_paused)  # the end of init: what it made is frozen
