"""What the submit function tells SQS about a message beyond success or failure."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient


def queue_url(sqs: SQSClient, queue_arn: str) -> str:
    """arn:aws:sqs:<region>:<account>:<name> -> the queue URL, without an API call."""
    _, _, _, _region, account, name = queue_arn.split(":", 5)
    return f"{sqs.meta.endpoint_url.rstrip('/')}/{account}/{name}"


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
