"""SQS (S3 ObjectCreated notifications) -> submit each new object to pyannoteAI. Reports partial batch failures."""

from __future__ import annotations

from voiceprint import container_init

_collector_paused = container_init.begin()  # before the imports and clients it speeds up: see its module

import random
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.utilities.typing import LambdaContext

from voiceprint import wiring
from voiceprint.disposition import DeadLetter, Disposition, RetryLater
from voiceprint.input_router import InputRouter
from voiceprint.object_source import ObjectSource
from voiceprint.queue_actions import Backlog, QueueActions
from voiceprint.removal_service import RemovalService
from voiceprint.settings import get_settings
from voiceprint.sqs_batch import BatchResponse, process_partial_response, receive_count
from voiceprint.submit_service import SubmitService

if TYPE_CHECKING:
    from voiceprint.job_store import JobStore
    from voiceprint.object_ref import ObjectRef
    from voiceprint.pyannote_client import PyannoteClient

logger = Logger()
metrics = Metrics()

settings = get_settings().require("table_name", "api_key_secret_id", "ref_key_secret_id", "input_bucket")
sqs = wiring.sqs()
queue = QueueActions(sqs, settings.dead_letter_queue_url)
s3 = wiring.s3()
secrets = wiring.secretsmanager()
dynamodb = wiring.dynamodb()


def build_service(
    *,
    store: JobStore | None = None,
    client: PyannoteClient | None = None,
    clock: Callable[[], float] = time.time,
    rand: Callable[[], float] = random.random,
    on_adopted: Callable[[ObjectRef, str], None] | None = None,
) -> InputRouter:
    """The service as this function runs it. The seam for the tests and the local stack, which pass their own
    collaborators (a store that crashes on cue, a client that races a webhook, a clock) instead of patching."""
    records = store or wiring.job_store(settings, dynamodb)
    objects = ObjectSource(s3)
    submission = SubmitService(
        settings=settings,
        store=records,
        budget=wiring.budget_store(settings, dynamodb),
        objects=objects,
        client=client or wiring.pyannote_client(settings, secrets),
        ref_key=wiring.secret(settings.ref_key_secret_id, settings, secrets).current,
        clock=clock,
        rand=rand,
        on_adopted=on_adopted,
        backlog=Backlog(sqs, settings.input_queue_url, clock=clock),
        allowance=wiring.submit_allowance(settings, dynamodb),
        opt_outs=wiring.opt_out_list(settings, dynamodb),
        thresholds=wiring.calibration_store(settings, dynamodb),
    )
    removal = RemovalService(store=records, objects=objects, results=wiring.result_store(settings, s3))
    return InputRouter(settings=settings, submission=submission, removal=removal)


service = build_service()


def record_handler(record: Mapping[str, Any]) -> list[Disposition]:
    try:
        return service.handle_message(record["body"], receive_count(record))
    except RetryLater as exc:
        queue.delay(record["eventSourceARN"], record["receiptHandle"], exc.delay_seconds)
        raise
    except DeadLetter as exc:
        if queue.dead_letter(record["body"], exc.reason):
            return [Disposition.DEAD_LETTER]  # moved, with its reason: done here
        raise  # no DLQ configured: the queue's redrive policy moves it eventually


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> BatchResponse:
    service.expect(len(event.get("Records") or ()))
    return process_partial_response(event, record_handler, expected=(RetryLater, DeadLetter))


container_init.finish(_collector_paused)  # the end of init: what it made is frozen
