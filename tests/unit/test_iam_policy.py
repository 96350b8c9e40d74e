"""IAM's evaluation of identity policies, as the local stack applies it to every call a handler makes."""

from __future__ import annotations

from typing import Any

import pytest

from voiceprint_local.iam_policy import REQUIRED, Where, allowed, poller_permissions, statements

WHERE = Where(
    "eu-west-1", "123456789012", secret_arn=lambda secret_id: f"arn:aws:secretsmanager:::secret:{secret_id}-Ab"
)
TABLE = "arn:aws:dynamodb:eu-west-1:123456789012:table/jobs"


def _policy(*raw: dict[str, Any]) -> Any:
    return statements([{"Version": "2012-10-17", "Statement": list(raw)}])


def test_an_allow_must_match_both_action_and_resource() -> None:
    policy = _policy({"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": "arn:aws:s3:::in/*"})
    assert allowed(policy, "s3:GetObject", "arn:aws:s3:::in/voiceprints/a.wav")
    assert not allowed(policy, "s3:GetObjectVersion", "arn:aws:s3:::in/voiceprints/a.wav")
    assert not allowed(policy, "s3:GetObject", "arn:aws:s3:::other/a.wav")
    assert not allowed(_policy(), "s3:GetObject", "arn:aws:s3:::in/a.wav")  # nothing granted, nothing allowed


def test_actions_ignore_case_resources_do_not_and_an_explicit_deny_wins() -> None:
    policy = _policy(
        {"Effect": "Allow", "Action": "S3:Get*", "Resource": "arn:aws:s3:::in/*"},
        {"Effect": "Deny", "Action": "s3:GetObjectVersion", "Resource": "arn:aws:s3:::in/secret/*"},
    )
    assert allowed(policy, "s3:GetObjectVersion", "arn:aws:s3:::in/a.wav")
    assert not allowed(policy, "s3:GetObjectVersion", "arn:aws:s3:::in/secret/a.wav")
    assert not allowed(policy, "s3:GetObject", "arn:aws:s3:::IN/a.wav")


def test_iam_wildcards_are_star_and_question_mark_only() -> None:
    policy = _policy({"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": "arn:s:key-??????"})
    assert allowed(policy, "secretsmanager:GetSecretValue", "arn:s:key-AbCdEf")
    assert not allowed(policy, "secretsmanager:GetSecretValue", "arn:s:key-AbCdE")
    brackets = _policy({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::in/[ab]"})
    assert not allowed(brackets, "s3:GetObject", "arn:aws:s3:::in/a")  # [ab] is literal in IAM, unlike fnmatch


def test_a_statement_with_a_condition_never_grants_locally() -> None:
    policy = _policy({"Effect": "Allow", "Action": "*", "Resource": "*", "Condition": {"Bool": {"x": "true"}}})
    assert not allowed(policy, "s3:GetObject", "arn:aws:s3:::in/a.wav")


def test_moto_policy_text_with_no_value_reads_as_the_document() -> None:
    text = "{'Statement': [{'Effect': 'Allow', 'Action': ['sqs:SendMessage'], 'Resource': 'arn:q'}, None]}"
    assert allowed(statements([text]), "sqs:SendMessage", "arn:q")


@pytest.mark.parametrize(
    ("service", "operation", "params", "expected"),
    [
        ("s3", "GetObject", {"Bucket": "in", "Key": "a.wav"}, [("s3:GetObject", "arn:aws:s3:::in/a.wav")]),
        (
            "s3",
            "HeadObject",
            {"Bucket": "in", "Key": "a.wav", "VersionId": "v1"},
            [("s3:GetObjectVersion", "arn:aws:s3:::in/a.wav")],
        ),
        (
            "s3",
            "DeleteObject",
            {"Bucket": "in", "Key": "a.wav", "VersionId": "v1"},
            [("s3:DeleteObjectVersion", "arn:aws:s3:::in/a.wav")],
        ),
        ("s3", "ListObjectVersions", {"Bucket": "in"}, [("s3:ListBucketVersions", "arn:aws:s3:::in")]),
        (
            "dynamodb",
            "Query",
            {"TableName": "jobs", "IndexName": "byGroup"},
            [("dynamodb:Query", f"{TABLE}/index/byGroup")],
        ),
        (
            "dynamodb",
            "TransactWriteItems",
            {"TransactItems": [{"Update": {"TableName": "jobs"}}, {"ConditionCheck": {"TableName": "jobs"}}]},
            [("dynamodb:UpdateItem", TABLE), ("dynamodb:ConditionCheckItem", TABLE)],
        ),
        (
            "sqs",
            "ChangeMessageVisibility",
            {"QueueUrl": "http://127.0.0.1:1/123456789012/input"},
            [("sqs:ChangeMessageVisibility", "arn:aws:sqs:eu-west-1:123456789012:input")],
        ),
        (  # the submit function reads the backlog's depth (it had no mapping: denied on the local stack until now)
            "sqs",
            "GetQueueAttributes",
            {"QueueUrl": "http://127.0.0.1:1/123456789012/input"},
            [("sqs:GetQueueAttributes", "arn:aws:sqs:eu-west-1:123456789012:input")],
        ),
        (
            "secretsmanager",
            "GetSecretValue",
            {"SecretId": "voiceprint/key"},
            [("secretsmanager:GetSecretValue", "arn:aws:secretsmanager:::secret:voiceprint/key-Ab")],
        ),
        (
            "events",
            "PutEvents",
            {"Entries": [{"EventBusName": "bus"}]},
            [("events:PutEvents", "arn:aws:events:eu-west-1:123456789012:event-bus/bus")],
        ),
    ],
)
def test_each_call_is_authorised_as_the_action_and_resource_aws_checks(
    service: str, operation: str, params: dict[str, Any], expected: list[tuple[str, str]]
) -> None:
    assert REQUIRED[(service, operation)](WHERE, params) == expected


def test_lambda_pollers_need_read_and_delete_on_their_source_and_send_on_the_failure_queue() -> None:
    queue = "arn:aws:sqs:eu-west-1:123456789012:input"
    assert {a for a, _ in poller_permissions(queue, None)} == {
        "sqs:ReceiveMessage",
        "sqs:DeleteMessage",
        "sqs:GetQueueAttributes",
    }
    stream = f"{TABLE}/stream/2026"
    needed = poller_permissions(stream, "arn:aws:sqs:eu-west-1:123456789012:dlq")
    assert ("dynamodb:GetRecords", stream) in needed
    assert ("sqs:SendMessage", "arn:aws:sqs:eu-west-1:123456789012:dlq") in needed
