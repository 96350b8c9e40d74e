"""HTTP API (IAM-authorised) GET /jobs/{jobId}, GET /objects?key=, GET /voiceprints?group=&label=,
GET /groups/{group}/voiceprints -> records; GET /groups/{group}/health -> per-label health. A record's voiceprint
is returned only when asked (voiceprint=true). Every read is logged with the caller's identity, the route and what
was asked for: who read which biometric data.

API Gateway has already routed the request (the event's routeKey names the route, pathParameters fill it in), so
the handler maps routeKey to a function. Powertools' Event Handler would route again, and importing it costs
cold start for asyncio, AppSync and every resolver (measured in docs/BENCHMARKS.md).
"""

from __future__ import annotations

from voiceprint import container_init

_collector_paused = container_init.begin()  # before the imports and clients it speeds up: see its module

import json
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from voiceprint import wiring
from voiceprint.read_service import BadRequest, NotFound, ReadService
from voiceprint.settings import get_settings

logger = Logger()

settings = get_settings().require("table_name", "input_bucket", "results_bucket")
dynamodb = wiring.dynamodb()
service = ReadService(
    wiring.record_queries(settings, dynamodb),
    wiring.result_store(settings),
    default_bucket=settings.input_bucket,
    health=wiring.label_health(settings, dynamodb),
)


TOP_LEVEL_GROUP = "~"  # /groups/~/voiceprints: the voiceprints directly under the prefix (group "")


def _with_voiceprint(query: dict[str, str]) -> bool:
    return query.get("voiceprint") == "true"


def get_job(path: dict[str, str], query: dict[str, str]) -> dict[str, Any]:
    return service.job(path.get("jobId", ""), with_voiceprint=_with_voiceprint(query))


def get_object(path: dict[str, str], query: dict[str, str]) -> dict[str, Any]:
    versions = service.object_versions(
        query.get("key", ""),
        query.get("bucket"),
        with_voiceprint=_with_voiceprint(query),
        with_result=query.get("result") == "true",
    )
    return {"versions": versions}


def _limit(query: dict[str, str]) -> int:
    try:
        return int(query.get("limit", "50"))
    except ValueError:
        raise BadRequest("limit must be a number") from None


def list_voiceprints(path: dict[str, str], query: dict[str, str]) -> dict[str, Any]:
    return service.voiceprints(
        # No group but a label: that label in every group. Neither: the top-level group.
        group=query.get("group", None if "label" in query else ""),
        label=query.get("label"),
        limit=_limit(query),
        cursor=query.get("next"),
        with_voiceprint=_with_voiceprint(query),
    )


def _group(path: dict[str, str]) -> str:
    name = path.get("group", "")
    return "" if name == TOP_LEVEL_GROUP else name.rstrip("/") + "/"


def group_health(path: dict[str, str], query: dict[str, str]) -> dict[str, Any]:
    """Per-label health of a group: last used, last matched, best score, never matched (IAM-scoped like the
    voiceprints route: .../GET/groups/team-a/health)."""
    return service.health(_group(path))


def list_group_voiceprints(path: dict[str, str], query: dict[str, str]) -> dict[str, Any]:
    """The group in the path, so that IAM policies can scope a caller to groups by resource ARN
    (execute-api:/*/GET/groups/team-a/voiceprints). Nested folders are one URL-encoded segment (team%2Fsub)."""
    return service.voiceprints(
        group=_group(path),
        label=query.get("label"),
        limit=_limit(query),
        cursor=query.get("next"),
        with_voiceprint=_with_voiceprint(query),
    )


ROUTES: dict[str, Callable[[dict[str, str], dict[str, str]], dict[str, Any]]] = {
    "GET /jobs/{jobId}": get_job,
    "GET /objects": get_object,
    "GET /voiceprints": list_voiceprints,
    "GET /groups/{group}/voiceprints": list_group_voiceprints,
    "GET /groups/{group}/health": group_health,
}


def _caller(event: dict[str, Any]) -> str:
    iam = ((event.get("requestContext") or {}).get("authorizer") or {}).get("iam") or {}
    return str(iam.get("userArn") or iam.get("callerId") or iam.get("accessKey") or "unknown")


def _answer(status: int, body: dict[str, Any]) -> dict[str, Any]:
    return {"statusCode": status, "headers": {"Content-Type": "application/json"}, "body": json.dumps(body)}


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    route_key = str(event.get("routeKey"))
    route = ROUTES.get(route_key)
    if route is None:
        return _answer(404, {"message": "no such route"})
    path, query = event.get("pathParameters") or {}, event.get("queryStringParameters") or {}
    # The audit line: who asked for what (names and ids; never a voiceprint).
    logger.info("read", extra={"caller": _caller(event), "route": route_key, "path": path, "query": query})
    try:
        return _answer(200, route(path, query))
    except NotFound as exc:
        return _answer(404, {"message": str(exc)})
    except BadRequest as exc:
        return _answer(400, {"message": str(exc)})


container_init.finish(_collector_paused)  # the end of init: what it made is frozen
