"""What the submit function tells SQS about a message beyond success or failure."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from aws_lambda_powertools import Logger
from botocore.exceptions import BotoCoreError, ClientError

from voiceprint.aws_errors import error_code

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient


logger = Logger(child=True)


def queue_url(sqs: SQSClient, queue_arn: str) -> str:
    """arn:aws:sqs:<region>:<account>:<name> -> the queue URL, without an API call."""
    _, _, _, _region, account, name = queue_arn.split(":", 5)
    return f"{sqs.meta.endpoint_url.rstrip('/')}/{account}/{name}"


class Backlog:
    """How many messages wait in a queue (visible, delayed, and in flight or sent back: every message still to be
    submitted), read with one GetQueueAttributes at most every `max_age` seconds per container: the rate-limited
    path asks for each message it sends back. Messages sent back are counted because they are ahead in the line
    too: counting the visible alone made the line look shorter the more of it had been sent back, so the last
    ones came back too early, again and again (the pacing runs' tail, docs/RELIABILITY.md)."""

    def __init__(
        self, sqs: SQSClient, url: str, *, max_age: float = 30.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._sqs, self._url, self._max_age, self._clock = sqs, url, max_age, clock
        self._read_at, self._depth = -max_age, 0

    def __call__(self) -> int:
        if not self._url:
            return 0
        now = self._clock()
        if now - self._read_at >= self._max_age:
            try:
                found = self._sqs.get_queue_attributes(
                    QueueUrl=self._url,
                    AttributeNames=[
                        "ApproximateNumberOfMessages",
                        "ApproximateNumberOfMessagesDelayed",
                        "ApproximateNumberOfMessagesNotVisible",
                    ],
                )["Attributes"]
                self._depth = (
                    int(found.get("ApproximateNumberOfMessages") or 0)
                    + int(found.get("ApproximateNumberOfMessagesDelayed") or 0)
                    + int(found.get("ApproximateNumberOfMessagesNotVisible") or 0)
                )
            except (ClientError, BotoCoreError) as exc:
                # Not knowing the depth costs only the spread: the backoff alone decides, as before.
                logger.warning("queue depth unknown", extra={"error": error_code(exc) or type(exc).__name__})
                self._depth = 0
            self._read_at = now
        return self._depth


class QueueActions:
    def __init__(self, sqs: SQSClient, dead_letter_queue_url: str) -> None:
        self._sqs = sqs
        self._dlq = dead_letter_queue_url

    def delay(self, queue_arn: str, receipt_handle: str, seconds: int) -> None:
        """Bring the message back after `seconds` (the API's Retry-After, or a backoff) instead of the default."""
        self._sqs.change_message_visibility(
            QueueUrl=queue_url(self._sqs, queue_arn), ReceiptHandle=receipt_handle, VisibilityTimeout=seconds
        )

    def dead_letter(self, body: str, reason: str) -> bool:
        """Send the message to the dead-letter queue with its reason; False when no DLQ is configured."""
        if not self._dlq:
            return False
        self._sqs.send_message(
            QueueUrl=self._dlq,
            MessageBody=body,
            MessageAttributes={"reason": {"DataType": "String", "StringValue": reason[:1000]}},
        )
        return True
