"""Issue 12: IAM is enforced on the local stack as AWS enforces it. Each test deploys template.yaml with one
permission the submit function needs taken out, and shows the call that needs it refused with an AccessDenied
that names the function, the action and the resource."""

from __future__ import annotations

from pathlib import Path

import pytest

from voiceprint_local import iam_report, template
from voiceprint_local.audio_samples import wav_bytes
from voiceprint_local.stack import LocalStack, StackOptions, running, wait_for

pytestmark = pytest.mark.e2e

INDENT = "\n" + " " * 16
SUBMIT_READS_VERSIONS = (
    "Action: [s3:GetObject, s3:GetObjectVersion]" + INDENT + "Resource: !If" + INDENT + "  - CreateBucket"
)
SUBMIT_DEFERS = (
    "- Effect: Allow" + INDENT + "Action: [sqs:ChangeMessageVisibility]" + INDENT + "Resource: !GetAtt InputQueue.Arn"
    "\n" + " " * 14
)
SUBMIT_POLLS = "sqs:ReceiveMessage, sqs:DeleteMessage, sqs:GetQueueAttributes"


def _without(tmp_path: Path, text: str, replacement: str) -> Path:
    source = template.TEMPLATE_PATH.read_text()
    assert source.count(text) == 1, f"template.yaml no longer has exactly one {text!r}"
    altered = tmp_path / "template.yaml"
    altered.write_text(source.replace(text, replacement))
    return altered


def _denied(stack: LocalStack, needle: str) -> bool:
    assert stack.iam is not None
    return any(needle in d for d in stack.iam.denied)


def test_without_get_object_version_the_submit_function_cannot_read_the_upload(tmp_path: Path) -> None:
    altered = _without(tmp_path, SUBMIT_READS_VERSIONS, SUBMIT_READS_VERSIONS.replace(", s3:GetObjectVersion", ""))
    options = StackOptions(template_path=altered, log_level="CRITICAL", metrics=False)
    with running(options) as stack:
        stack.upload("voiceprints/denied.wav", wav_bytes(1.0, "alice"))
        expected = (
            "the submit function (role arn:aws:iam::123456789012:role/voiceprint-local-SubmitFunctionRole-LOCAL) is "
            "not authorized to perform: s3:GetObjectVersion on resource: "
            f"arn:aws:s3:::{stack.bucket}/voiceprints/denied.wav"
        )
        assert wait_for(lambda: _denied(stack, expected), timeout=30), stack.iam and stack.iam.denied
        assert stack.emulator is not None
        assert stack.emulator.job_snapshot() == []


def test_without_change_message_visibility_the_submit_function_cannot_defer_a_retry(tmp_path: Path) -> None:
    altered = _without(tmp_path, SUBMIT_DEFERS, "")
    options = StackOptions(template_path=altered, emulator={"error_rate": 1.0}, log_level="CRITICAL", metrics=False)
    with running(options) as stack:
        stack.upload("voiceprints/deferred.wav", wav_bytes(1.0, "alice"))
        expected = f"not authorized to perform: sqs:ChangeMessageVisibility on resource: {stack.queue_arn}"
        assert wait_for(lambda: _denied(stack, expected), timeout=30), stack.iam and stack.iam.denied
        assert stack.iam is not None
        assert all("the submit function" in d for d in stack.iam.denied)


def test_without_list_bucket_a_deletion_cannot_be_confirmed_so_the_records_would_stay(tmp_path: Path) -> None:
    """S3 answers a read of an object that is gone with 404 only to a role that may list the bucket, 403 to any
    other; the local stack answers as S3 does. Before s3:ListBucket was granted (issue 14's review), this is what
    every deletion met in AWS: the removal was never confirmed, and the voiceprint outlived its source."""
    altered = _without(tmp_path, "Action: [s3:ListBucket]", "Action: [s3:GetBucketLocation]")
    options = StackOptions(template_path=altered, log_level="CRITICAL", metrics=False)
    with running(options) as stack:
        key = "voiceprints/kept.wav"
        stack.upload(key, wav_bytes(1.0, "alice"))
        assert wait_for(lambda: key in stack.terminal_records(), timeout=30)
        stack.client("s3").delete_object(Bucket=stack.bucket, Key=key)  # a delete marker
        assert not wait_for(lambda: key not in stack.terminal_records(), timeout=5)
        assert stack.iam is not None
        assert stack.iam.denied == []  # nothing was denied outright: S3 said 403 where it would have said 404


def test_a_mapping_whose_role_cannot_poll_its_queue_stops_the_stack_as_aws_refuses_it(tmp_path: Path) -> None:
    altered = _without(tmp_path, SUBMIT_POLLS, "sqs:DeleteMessage, sqs:GetQueueAttributes")
    with pytest.raises(PermissionError, match=r"submit function's event source mapping.*sqs:ReceiveMessage"):
        LocalStack(StackOptions(template_path=altered)).start()


def test_with_the_template_as_it_is_nothing_a_handler_does_is_denied() -> None:
    with running(StackOptions(log_level="WARNING", metrics=False, reconcile_every_seconds=0.5)) as stack:
        stack.upload("voiceprints/allowed.wav", wav_bytes(1.0, "alice"))
        stack.upload("identify/allowed-call.wav", wav_bytes(1.0, "alice"))
        assert wait_for(lambda: len(stack.terminal_records()) == 2, timeout=60)
        assert stack.iam is not None
        assert stack.iam.denied == []
        functions = {function for function, _, _ in stack.iam.checked}
        assert {"submit", "webhook", "events"} <= functions  # their calls were checked, not skipped


def test_every_permission_granted_is_exercised_by_the_workload_or_justified_in_docs_iam() -> None:
    """Least privilege, kept: a grant nothing uses must be removed from template.yaml or justified, and docs/IAM.md
    says the same as the workload finds."""
    left = iam_report.measure()
    unjustified = [(f, a) for f, pairs in left.items() for a, _ in pairs if (f, a) not in iam_report.JUSTIFIED]
    assert unjustified == [], f"granted, never exercised, not justified: {unjustified}"
    stale = [k for k in iam_report.JUSTIFIED if k[1] not in {a for a, _ in left.get(k[0], [])}]
    assert stale == [], f"justified but exercised now (drop the justification): {stale}"
    assert iam_report.PAGE.read_text() == iam_report.render(left), (
        "docs/IAM.md is stale: python -m voiceprint_local.iam_report"
    )
