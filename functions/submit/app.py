"""SQS (S3 ObjectCreated notifications) -> submit each new object to pyannoteAI. Reports partial batch failures."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from voiceprint import wiring
from voiceprint.queue_actions import QueueActions
from voiceprint.settings import get_settings
from voiceprint.submit_service import DeadLetter, RetryLater, SubmitService, parse_receive_count

logger = Logger()
metrics = Metrics()
# Report every failed message, even when all of a batch failed, rather than raising: one path for retries.
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)

settings = get_settings()
sqs = wiring.sqs()
queue = QueueActions(sqs, settings.dead_letter_queue_url)
service = SubmitService(
    settings=settings, store=wiring.job_store(settings), s3=wiring.s3(), client=wiring.pyannote_client(settings)
)


def record_handler(record: SQSRecord) -> list[str]:
    try:
        return service.handle_message(record.body, parse_receive_count(record.attributes.raw_event))
    except RetryLater as exc:
        queue.delay(record.event_source_arn, record.receipt_handle, exc.delay_seconds)
        raise
    except DeadLetter as exc:
        if queue.dead_letter(record.body, exc.reason):
            return ["dead_letter"]  # moved, with its reason: done here
        raise  # no DLQ configured: the queue's redrive policy moves it eventually


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
