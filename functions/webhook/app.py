"""API Gateway HTTP API (payload v2) POST /webhooks/pyannote -> verify and record the job's result."""

from __future__ import annotations

from voiceprint import container_init

_collector_paused = container_init.begin()  # before the imports and clients it speeds up: see its module

import json
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.utilities.typing import LambdaContext

from voiceprint import wiring
from voiceprint.settings import get_settings
from voiceprint.webhook_service import WebhookRequest, WebhookService

if TYPE_CHECKING:
    from voiceprint.pyannote_client import PyannoteClient
    from voiceprint.rate_allowance import RateAllowance

logger = Logger()
metrics = Metrics()

settings = get_settings().require("table_name", "webhook_secret_id", "ref_key_secret_id")
secrets = wiring.secretsmanager()


@lru_cache(maxsize=1)
def _client() -> PyannoteClient:
    # Only status-only webhooks need the API; keep its timeout well inside pyannoteAI's 10 s answer budget.
    return wiring.pyannote_client(settings, secrets, timeout_seconds=min(4, settings.http_timeout_seconds))


dynamodb = wiring.dynamodb()


@lru_cache(maxsize=1)
def _reads() -> RateAllowance:
    # The job-read limit, shared with the reconciler: drawn on by status-only webhooks alone.
    return wiring.read_allowance(settings, dynamodb)


service = WebhookService(
    settings=settings,
    store=wiring.job_store(settings, dynamodb),
    secrets=wiring.secret(settings.webhook_secret_id, settings, secrets),
    ref_keys=wiring.secret(settings.ref_key_secret_id, settings, secrets),
    client=_client,
    results=wiring.result_store(settings),
    reads=_reads,
    health=wiring.label_health(settings, dynamodb),
)


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    # The raw payload-v2 dict, not Powertools' event data class: importing that package loads every event
    # class (its cost: docs/BENCHMARKS.md, "What the Powertools utilities we do not use would add") for four fields.
    request = WebhookRequest.from_http_api(
        event.get("body"),
        bool(event.get("isBase64Encoded")),
        event.get("headers") or {},
        event.get("queryStringParameters"),
    )
    response = service.handle(request)
    return {
        "statusCode": response.status_code,
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps(response.body),
    }


container_init.finish(_collector_paused)  # the end of init: what it made is frozen
