"""HTTP API (IAM-authorised) GET /jobs/{jobId}, GET /objects?key=, GET /voiceprints?group=&label= -> records.

API Gateway has already routed the request (the event's routeKey names the route, pathParameters fill it in), so
the handler maps routeKey to a function. Powertools' Event Handler would route again, and importing it costs
~45 ms of cold start (asyncio, AppSync, every resolver; docs/BENCHMARKS.md).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from voiceprint import wiring
from voiceprint.read_service import BadRequest, NotFound, ReadService
from voiceprint.settings import get_settings

logger = Logger()

settings = get_settings()
service = ReadService(wiring.job_store(settings), wiring.lazy_s3(), default_bucket=settings.input_bucket)


def get_job(path: dict[str, str], query: dict[str, str]) -> dict[str, Any]:
    return service.job(path.get("jobId", ""))


def get_object(path: dict[str, str], query: dict[str, str]) -> dict[str, Any]:
    return {"versions": service.object_versions(query.get("key", ""), query.get("bucket"))}


def list_voiceprints(path: dict[str, str], query: dict[str, str]) -> dict[str, Any]:
    try:
        limit = int(query.get("limit", "50"))
    except ValueError:
        raise BadRequest("limit must be a number") from None
    return service.voiceprints(
        # No group but a label: that label in every group. Neither: the top-level group.
        group=query.get("group", None if "label" in query else ""),
        label=query.get("label"),
        limit=limit,
        cursor=query.get("next"),
        with_voiceprint=query.get("voiceprint") == "true",
    )


ROUTES: dict[str, Callable[[dict[str, str], dict[str, str]], dict[str, Any]]] = {
    "GET /jobs/{jobId}": get_job,
    "GET /objects": get_object,
    "GET /voiceprints": list_voiceprints,
}


def _answer(status: int, body: dict[str, Any]) -> dict[str, Any]:
    return {"statusCode": status, "headers": {"Content-Type": "application/json"}, "body": json.dumps(body)}


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    route = ROUTES.get(str(event.get("routeKey")))
    if route is None:
        return _answer(404, {"message": "no such route"})
    try:
        return _answer(200, route(event.get("pathParameters") or {}, event.get("queryStringParameters") or {}))
    except NotFound as exc:
        return _answer(404, {"message": str(exc)})
    except BadRequest as exc:
        return _answer(400, {"message": str(exc)})
