"""The submit function's service: each S3 record of an input-queue message goes where it belongs. Creations go to
submission (submit_service), removals to removal_service; notifications of another bucket, keys outside the
prefixes, S3's test event and other event types go nowhere, each with its disposition."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from voiceprint import s3_notifications, source_key
from voiceprint.disposition import DeadLetter, Disposition, RetryLater
from voiceprint.s3_notifications import MalformedMessage, Notification

if TYPE_CHECKING:
    from voiceprint.removal_service import RemovalService
    from voiceprint.settings import Settings
    from voiceprint.submit_service import SubmitService

logger = Logger(child=True)
metrics = Metrics()


class InputRouter:
    def __init__(self, *, settings: Settings, submission: SubmitService, removal: RemovalService) -> None:
        self._settings = settings
        self.submission = submission  # public: a 429's pause is the submission's (pause_until)
        self._removal = removal

    def expect(self, messages: int) -> None:
        """An invocation's batch size, before its messages: the submission takes no more rate tokens than it has
        messages left to submit (rate_allowance: tokens stranded in one container are lost to the others)."""
        self.submission.expect(messages)

    def handle_message(self, body: str, receive_count: int) -> list[Disposition]:
        """Process one SQS message (an S3 notification). Returns what became of each of its S3 records.

        Raises RetryLater if any record must be retried (the records already done are no-ops on redelivery), else
        DeadLetter if any record is out of attempts or the message is not an S3 notification at all.
        """
        try:
            notifications = s3_notifications.parse(body)
        except MalformedMessage as exc:
            logger.error("malformed queue message: dead-lettered", extra={"reason": str(exc)})
            metrics.add_metric(name="MalformedMessages", unit=MetricUnit.Count, value=1)
            raise DeadLetter(f"malformed_message: {exc}") from None
        if notifications is None:
            return [Disposition.TEST_EVENT]
        dispositions: list[Disposition] = []
        retry: RetryLater | None = None
        dead: DeadLetter | None = None
        for note in notifications:
            try:
                dispositions.append(self._route(note, receive_count))
            except RetryLater as exc:
                dispositions.append(Disposition.RETRY)
                if retry is None or exc.delay_seconds > retry.delay_seconds:
                    retry = exc
            except DeadLetter as exc:
                dispositions.append(Disposition.DEAD_LETTER)
                dead = exc
        if retry is not None:
            raise retry
        if dead is not None:
            raise dead
        return dispositions

    def _route(self, note: Notification, receive_count: int) -> Disposition:
        if note.bucket != self._settings.input_bucket:
            # Only the input bucket notifies this queue; anything else is forged or misrouted.
            logger.warning("notification for another bucket ignored", extra={"bucket": note.bucket[:63]})
            metrics.add_metric(name="ForeignBucketNotifications", unit=MetricUnit.Count, value=1)
            return Disposition.FOREIGN_BUCKET
        if not (note.removed or note.created):
            return Disposition.IGNORED_EVENT
        source = source_key.parse(
            note.key,
            voiceprint_prefix=self._settings.voiceprint_prefix,
            identify_prefix=self._settings.identify_prefix,
            suffix=self._settings.key_suffix,
        )
        if source is None:
            return Disposition.FILTERED
        if note.removed:
            return self._removal.forget_object(note)
        return self.submission.submit_object(note, source, receive_count)
