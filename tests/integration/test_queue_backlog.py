"""The input queue's depth as the submit function reads it (queue_actions.Backlog) on moto: visible, delayed and
in-flight messages, one read per interval, and nothing worse than the plain backoff when the read fails."""

from __future__ import annotations

from tests.conftest import Aws
from voiceprint.queue_actions import Backlog


def test_the_backlog_counts_waiting_messages_and_is_read_once_per_interval(aws: Aws) -> None:
    now = [0.0]
    backlog = Backlog(aws.sqs, aws.queue_url, max_age=30, clock=lambda: now[0])
    for n in range(3):
        aws.sqs.send_message(QueueUrl=aws.queue_url, MessageBody=f"m{n}")
    aws.sqs.send_message(QueueUrl=aws.queue_url, MessageBody="later", DelaySeconds=600)
    assert backlog() == 4
    aws.sqs.send_message(QueueUrl=aws.queue_url, MessageBody="m4")
    now[0] = 29.0
    assert backlog() == 4  # the same read
    now[0] = 30.0
    assert backlog() == 5
    # A message received and sent back for later is still in the line ahead of whatever is sent back next.
    [received] = aws.sqs.receive_message(QueueUrl=aws.queue_url, MaxNumberOfMessages=1)["Messages"]
    aws.sqs.change_message_visibility(
        QueueUrl=aws.queue_url, ReceiptHandle=received["ReceiptHandle"], VisibilityTimeout=600
    )
    now[0] = 60.0
    assert backlog() == 5


def test_an_unreadable_queue_counts_as_empty(aws: Aws) -> None:
    gone = aws.queue_url.rsplit("/", 1)[0] + "/no-such-queue"
    assert Backlog(aws.sqs, gone)() == 0
    assert Backlog(aws.sqs, "")() == 0
