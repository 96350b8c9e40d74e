"""A webhook that races the submit handler's write of the jobId, on the DynamoDB adapter.

The webhook's first write needs the record's jobId; when it is not there yet, a bound ref keeps the result on the
record as an early result, which needs the jobId still absent. If the submit handler writes the jobId between those
two writes, neither holds: the result must still be applied, not answered as a duplicate (which stops pyannoteAI's
retries and leaves the record to the reconciler). Seen once in a loaded pacing run: a job done 0.3 s after its
submission stayed `submitted` until the reconciler's pass 900 s later."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

from voiceprint.job_state import Kind, Status, outcome_from_job
from voiceprint.job_store import ApplyResult, JobStore
from voiceprint.object_ref import ObjectRef

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

NOW = 1_700_000_000.0
EARLY_CONDITION = "attribute_not_exists(jobId)"  # only the early-result write asks for the jobId to be absent


class _SubmitLandsFirst:
    """A DynamoDB client for the webhook's side that lets the submit handler's write land just before the
    webhook's early-result write: the interleaving of two Lambda containers, made deterministic."""

    def __init__(self, ddb: Any, submit_lands: Callable[[], None]) -> None:
        self._ddb, self._submit_lands, self.interleaved = ddb, submit_lands, False

    def update_item(self, **kwargs: Any) -> Any:
        if not self.interleaved and EARLY_CONDITION in kwargs.get("ConditionExpression", ""):
            self.interleaved = True
            self._submit_lands()
        return self._ddb.update_item(**kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._ddb, name)


def test_a_result_is_applied_when_the_job_id_lands_between_the_webhooks_two_writes(aws: Any) -> None:
    ref = ObjectRef("input", "voiceprints/team/alice.wav", 1000, "v1", "v1", '"etag"')
    submit_side = JobStore(aws.ddb, aws.table, retention_days=30)
    claim = submit_side.claim(ref, now=NOW, lease_seconds=120, kind=Kind.VOICEPRINT, group="team/")
    assert claim is not None
    early: list[object] = []

    def submit_lands() -> None:  # the submit handler records the job it just created
        early.append(
            submit_side.record_submitted(
                ref, claim, job_id="job-1", vendor_status="created", warning=None, now=NOW + 1, details={}
            )
        )

    client = _SubmitLandsFirst(aws.ddb, submit_lands)
    webhook_side = JobStore(cast("DynamoDBClient", client), aws.table, retention_days=30)
    done = outcome_from_job("succeeded", {"voiceprint": "vp-alice"})

    result = webhook_side.apply_outcome(ref.record_keys, "job-1", done, now=NOW + 2, allow_early=True)

    assert client.interleaved  # the race happened as staged
    assert early == [None]  # the submit handler found no early result to adopt
    assert result is ApplyResult.APPLIED
    record = submit_side.get(ref.record_keys)
    assert record is not None
    assert (record.status, record.job_id, record.voiceprint) == (Status.SUCCEEDED, "job-1", "vp-alice")
