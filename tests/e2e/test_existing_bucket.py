"""Issue 14: a bucket the stack does not own (ExistingBucketName). The local stack makes the bucket first, as a user
has it, with EventBridge notifications on; the template's rule forwards S3's events to the input queue, and the
unchanged handlers process them: uploads become voiceprints, deletions take their records, other keys are left."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.helpers import settle
from voiceprint_local.audio_samples import wav_bytes
from voiceprint_local.deploy import STACK_NAME
from voiceprint_local.provisioning import EXISTING_BUCKET
from voiceprint_local.stack import LocalStack, StackOptions, running, wait_for

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    with running(StackOptions(log_level="CRITICAL", metrics=False, existing_bucket=True)) as s:
        yield s


def test_the_stack_uses_the_existing_bucket_and_creates_none(stack: LocalStack) -> None:
    assert stack.bucket == EXISTING_BUCKET
    cfn = stack.client("cloudformation")
    resources = {
        r["LogicalResourceId"] for r in cfn.list_stack_resources(StackName=STACK_NAME)["StackResourceSummaries"]
    }
    assert "InputBucket" not in resources
    assert "ExistingBucketEvents" in resources
    assert stack.resources is not None
    assert stack.resources.deployment.function_env["SubmitFunction"]["INPUT_BUCKET"] == EXISTING_BUCKET


def test_uploads_to_the_existing_bucket_become_voiceprints_through_eventbridge(stack: LocalStack) -> None:
    stack.upload("voiceprints/ops/alice.wav", wav_bytes(2.0, "alice"))
    stack.upload("voiceprints/ops/Zoë and Bob.wav", wav_bytes(2.0, "bob"))  # keys arrive as they are
    stack.upload("elsewhere/carol.wav", wav_bytes(2.0, "carol"))  # outside the prefixes: the rule leaves it
    records = settle(stack, ["voiceprints/ops/alice.wav", "voiceprints/ops/Zoë and Bob.wav"])
    assert {r["status"] for r in records.values()} == {"succeeded"}
    assert records["voiceprints/ops/Zoë and Bob.wav"]["label"] == "Zoë and Bob"
    assert not wait_for(lambda: any(r["objectKey"] == "elsewhere/carol.wav" for r in stack.records()), 1.0)


def test_deleting_from_the_existing_bucket_removes_the_records(stack: LocalStack) -> None:
    stack.upload("voiceprints/ops/dave.wav", wav_bytes(2.0, "carol"))
    settle(stack, ["voiceprints/ops/dave.wav"])
    stack.client("s3").delete_object(Bucket=stack.bucket, Key="voiceprints/ops/dave.wav")  # a delete marker
    assert wait_for(lambda: all(r["objectKey"] != "voiceprints/ops/dave.wav" for r in stack.records()), 30)
