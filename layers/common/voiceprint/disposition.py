"""What became of each S3 record of an input-queue message, and how a message asks to come back (RetryLater) or
to leave for the dead-letter queue (DeadLetter). The record's own status says the rest (job_state.Status)."""

from __future__ import annotations

from enum import StrEnum


class Disposition(StrEnum):
    SUBMITTED = "submitted"  # pyannoteAI accepted the job
    ADOPTED = "adopted"  # an earlier submission's result, come by webhook, was taken instead of paying again
    REFUSED = "refused"  # failed before or by the submission (the record's failureCode says why); nothing retried
    DUPLICATE = "duplicate"  # this object version is already past submission
    LOST_CLAIM = "lost_claim"  # another invocation took the claim over; the object is its
    RETRY = "retry"  # the message comes back (RetryLater)
    DEAD_LETTER = "dead_letter"  # the message goes to the dead-letter queue (DeadLetter)
    OBJECT_GONE = "object_gone"  # deleted before it could be read: nothing to submit
    DELETED = "deleted"  # a removal: the records of the deleted object (version) went with it
    NOT_DELETED = "not_deleted"  # a removal S3 does not confirm: nothing deleted
    FILTERED = "filtered"  # not under a prefix this stack processes
    FOLDER_MARKER = "folder_marker"  # a console "folder": an empty key ending in /
    FOREIGN_BUCKET = "foreign_bucket"  # a notification for another bucket: forged or misrouted, ignored
    IGNORED_EVENT = "ignored_event"  # neither a creation nor a removal
    TEST_EVENT = "test_event"  # S3's s3:TestEvent when the notification is configured


class RetryLater(Exception):
    """The message must come back after `delay_seconds` (SQS visibility); the reason is on the record."""

    def __init__(self, reason: str, delay_seconds: int) -> None:
        super().__init__(reason)
        self.delay_seconds = delay_seconds


class DeadLetter(Exception):
    """Out of attempts, or a message no retry can help: it belongs in the dead-letter queue, with this reason."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
