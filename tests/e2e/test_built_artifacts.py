"""Issue 12: what `sam build` makes is what runs. Every function runs here from its built artifact, in a process of
its own with only the artifact, the built layer and the runtime's boto3 importable, on the stack CloudFormation
made from the template, with IAM enforced: a voiceprint, an identification written to the results bucket, its
events, a read through the results API and the reconciler's schedule."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from botocore.credentials import Credentials

from voiceprint_cli.api import ResultsApi
from voiceprint_local import lambda_artifacts
from voiceprint_local.artifact_functions import ArtifactFunction
from voiceprint_local.audio_samples import wav_bytes
from voiceprint_local.stack import (
    ACCESS_KEY,
    FUNCTIONS,
    REGION,
    SECRET_KEY,
    LocalStack,
    StackOptions,
    running,
    wait_for,
)

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    build_dir = lambda_artifacts.sam_build(tmp_path_factory.mktemp("sam-build"))
    options = StackOptions(
        artifacts=build_dir,
        reconcile_every_seconds=0.5,
        log_level="WARNING",
        metrics=False,
        env={"INLINE_RESULT_MAX_BYTES": "0"},  # the identification's output goes to the results bucket
    )
    with running(options) as s:
        yield s


def test_every_function_runs_from_its_built_artifact_with_iam_enforced(stack: LocalStack) -> None:
    assert all(isinstance(stack.handlers[name], ArtifactFunction) for name in FUNCTIONS)
    stack.upload("voiceprints/built/alice.wav", wav_bytes(2.0, "alice"))
    stack.upload("voiceprints/built/bob.wav", wav_bytes(2.0, "bob"))
    assert wait_for(lambda: len(stack.terminal_records()) == 2, timeout=60), stack.errors
    stack.upload("identify/built/call.wav", wav_bytes(2.0, "alice"))
    assert wait_for(lambda: len(stack.terminal_records()) == 3, timeout=60), stack.errors

    records = stack.terminal_records()
    assert {r["status"] for r in records.values()} == {"succeeded"}
    call = records["identify/built/call.wav"]
    assert str(call["resultLocation"]).startswith(f"s3://{stack.results_bucket}/identifications/")

    events: list[dict[str, Any]] = []

    def three_events() -> bool:
        events.extend(stack.published_events())
        return len(events) >= 3

    assert wait_for(three_events, timeout=30)
    assert sorted(str(e["detail-type"]) for e in events)[:3] == [
        "Identification Ready",
        "Voiceprint Ready",
        "Voiceprint Ready",
    ]

    assert stack.api is not None
    api = ResultsApi.connect(stack.api.url, credentials=Credentials(ACCESS_KEY, SECRET_KEY), region=REGION, local=True)
    record = api.job(str(call["jobId"]))
    assert record is not None
    assert record["key"] == "identify/built/call.wav"

    assert wait_for(lambda: stack.invocations["reconciler"] > 0, timeout=10)
    assert stack.errors == []
    assert stack.iam is not None
    assert stack.iam.denied == []
    assert {function for function, _, _ in stack.iam.checked} == set(FUNCTIONS)  # each one's calls were checked
