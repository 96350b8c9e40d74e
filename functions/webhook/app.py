"""API Gateway HTTP API (payload v2) POST /webhooks/pyannote -> verify and record the job's result."""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2, event_source
from aws_lambda_powertools.utilities.typing import LambdaContext

from voiceprint import wiring
from voiceprint.pyannote_client import PyannoteClient
from voiceprint.secret_source import SecretSource
from voiceprint.settings import get_settings
from voiceprint.webhook_service import WebhookRequest, WebhookService

logger = Logger()
metrics = Metrics()

settings = get_settings()


@lru_cache(maxsize=1)
def _client() -> PyannoteClient:
    # Only status-only webhooks need the API; keep its timeout well inside pyannoteAI's 10 s answer budget.
    return wiring.pyannote_client(settings, timeout_seconds=min(4, settings.http_timeout_seconds))


service = WebhookService(
    settings=settings,
    store=wiring.job_store(settings),
    secrets=SecretSource(settings.webhook_secret_id, max_age=settings.secret_cache_seconds),
    client=_client,
)


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
@event_source(data_class=APIGatewayProxyEventV2)
def lambda_handler(event: APIGatewayProxyEventV2, context: LambdaContext) -> dict[str, Any]:
    request = WebhookRequest.from_http_api(
        event.body, bool(event.is_base64_encoded), event.headers, event.query_string_parameters
    )
    response = service.handle(request)
    return {
        "statusCode": response.status_code,
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps(response.body),
    }
