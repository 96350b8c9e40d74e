"""Charging a claimed submission to the budget before it is paid: the group's and the stack's day quotas, and for
an identification, the dedup marker of the same request made within the dedup window. A refusal is a Refusal the
record fails with (unpaid); a claim lost meanwhile is LostClaim."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit

from voiceprint import identify_candidates
from voiceprint.budget_store import Charge, Limits
from voiceprint.job_state import FailureCode
from voiceprint.job_store import LostClaim
from voiceprint.submission_checks import Refusal

if TYPE_CHECKING:
    from voiceprint.job_store import Claim
    from voiceprint.object_ref import ObjectRef
    from voiceprint.ports import Budget
    from voiceprint.settings import Settings

metrics = Metrics()


def limits_of(settings: Settings) -> Limits:
    return Limits(
        group_daily_jobs=settings.group_daily_jobs,
        group_daily_audio_seconds=settings.group_daily_audio_seconds,
        stack_daily_audio_seconds=settings.stack_daily_audio_seconds,
    )


def charge(
    budget: Budget,
    settings: Settings,
    ref: ObjectRef,
    claim: Claim,
    *,
    group: str,
    seconds: int,
    candidates: list[dict[str, str]],
    now: float,
) -> None:
    """Charge the budget for this job, with the claim; raises Refusal if a quota is spent or the same
    identification was just requested, LostClaim if the claim is no longer ours."""
    # Without an ETag the content is unknown: no deduplication rather than a false match.
    dedup = (
        identify_candidates.request_digest(group, ref.etag, ref.size, candidates) if candidates and ref.etag else None
    )
    result = budget.charge(
        ref.record_keys,
        claim.token,
        group=group,
        audio_seconds=seconds,
        limits=limits_of(settings),
        now=now,
        dedup_key=dedup,
        dedup_seconds=settings.identify_dedup_seconds,
        original={"bucket": ref.bucket, "key": ref.key, "versionId": ref.version},
    )
    if result.charge is Charge.CHARGED:
        return
    if result.charge is Charge.LOST_CLAIM:
        raise LostClaim(ref.uri)
    metrics.add_metric(name="BudgetRefusals", unit=MetricUnit.Count, value=1)
    if result.charge is Charge.DUPLICATE:
        was = result.duplicate_of or {}
        raise Refusal(
            FailureCode.DUPLICATE_REQUEST,
            f"the same identification (content, group and candidates) was requested for {was.get('key')!r} "
            f"(version {was.get('versionId')}) within the last {settings.identify_dedup_seconds} s: "
            "its record has the result",
        )
    whose = f"group {group!r}" if result.charge is Charge.GROUP_QUOTA else "the stack"
    raise Refusal(FailureCode.QUOTA_EXCEEDED, f"the daily budget of {whose} is spent (UTC day); not submitted")
