"""HTTP API (IAM-authorised) GET /jobs/{jobId}, GET /objects?key=, GET /voiceprints?group=&label= -> records."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
from aws_lambda_powertools.event_handler.exceptions import BadRequestError, NotFoundError
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from voiceprint import wiring
from voiceprint.read_service import BadRequest, ReadService
from voiceprint.settings import get_settings

logger = Logger()
app = APIGatewayHttpResolver()

settings = get_settings()
service = ReadService(wiring.job_store(settings), wiring.lazy_s3(), default_bucket=settings.input_bucket)


@app.get("/jobs/<job_id>")
def get_job(job_id: str) -> dict[str, Any]:
    found = service.job(job_id)
    if found is None:
        raise NotFoundError(f"no job {job_id}")
    return found


@app.get("/objects")
def get_object() -> dict[str, Any]:
    query = app.current_event.query_string_parameters or {}
    try:
        versions = service.object_versions(query.get("key", ""), query.get("bucket"))
    except BadRequest as exc:
        raise BadRequestError(str(exc)) from None
    if not versions:
        raise NotFoundError("no record for this object")
    return {"versions": versions}


@app.get("/voiceprints")
def list_voiceprints() -> dict[str, Any]:
    query = app.current_event.query_string_parameters or {}
    try:
        return service.voiceprints(
            group=query.get("group", ""),
            label=query.get("label"),
            limit=int(query.get("limit", "50")),
            cursor=query.get("next"),
            with_voiceprint=query.get("voiceprint") == "true",
        )
    except (BadRequest, ValueError) as exc:
        raise BadRequestError(str(exc)) from None


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
