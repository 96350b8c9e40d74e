"""What a claimed object will be submitted as, decided before anything is paid: the checks pyannoteAI would make
(or could not survive), the seconds it bills, and what the record keeps with the job (a voiceprint's label; an
identification's candidate labels, with the voiceprints sent; the model asked for)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from voiceprint import identify_candidates, identify_options, submission_checks
from voiceprint.audio_probe import RangedReader
from voiceprint.frozen import frozen
from voiceprint.job_state import FailureCode, Kind
from voiceprint.object_source import FIRST_BLOCK_BYTES, ObjectGone
from voiceprint.submission_checks import Refusal

if TYPE_CHECKING:
    from voiceprint.object_ref import ObjectRef
    from voiceprint.object_source import ObjectRead
    from voiceprint.ports import GroupThresholds, ObjectReader, OptOuts, RecordReader
    from voiceprint.source_key import SourceKey


@frozen
class Plan:
    details: Mapping[str, Any]  # written on the record with the job: {"label": ...} or {"candidates": [...]}
    candidates: list[dict[str, str]]  # an identification's {"label", "voiceprint"}s; empty for a voiceprint
    seconds: int  # what pyannoteAI bills: whole seconds of audio, at least 1
    options: identify_options.IdentifyOptions | None = None  # an identification's request options


def plan(
    ref: ObjectRef,
    source: SourceKey,
    first: ObjectRead,
    *,
    objects: ObjectReader,
    records: RecordReader,
    voiceprint_prefix: str,
    model: str,
    require_consent: bool = False,
    opt_outs: OptOuts | None = None,
    thresholds: GroupThresholds | None = None,
    threshold: int | None = None,
    exclusive: bool | None = None,
    review_band_on: bool = False,
) -> Plan:
    """Refuse (Refusal) what pyannoteAI would refuse or could not load, an enrolment without the consent
    reference the stack requires or of a label on the opt-out list, else say what to submit (and with which
    `model`, kept on the record). An identification never compares against an opted-out label's voiceprint (one
    made while the opt-out was being added), nor against one another model made."""
    problem = submission_checks.key_problem(ref.key)
    if problem:
        raise Refusal(FailureCode.INVALID_KEY, problem)
    submission_checks.check_size(source.kind, ref.size)

    def fetch(start: int, end: int) -> bytes:
        return objects.read(ref.bucket, ref.key, ref.version_id, start, end).data

    reader = RangedReader(fetch, ref.size, block_size=FIRST_BLOCK_BYTES, first_block=first.data)
    try:
        info = submission_checks.check_audio(source.kind, reader, ref.size)
    except ObjectGone:
        raise Refusal(FailureCode.OBJECT_GONE, "the object was deleted before it could be processed") from None
    seconds = max(1, math.ceil(info.duration_seconds))  # billed by the second (at the vendor's minimum)
    opted_out = opt_outs.labels(source.group) if opt_outs is not None else frozenset()
    if source.kind is Kind.IDENTIFY:
        calibrated = thresholds.threshold(source.group) if thresholds is not None else None
        options = identify_options.from_metadata(
            first.metadata,
            threshold=calibrated if calibrated is not None else threshold,
            exclusive=exclusive,
            review_band_on=review_band_on,
        )
        found = identify_candidates.choose(
            (r for r in records.voiceprints_in_group(source.group) if r.label not in opted_out),
            group=source.group,
            voiceprint_prefix=voiceprint_prefix,
            model=model,
            only=options.candidates,
        )
        details: dict[str, Any] = {
            "candidates": [c["label"] for c in found.chosen],
            "model": model,
            **options.details(),
        }
        if found.stale:
            details["warning"] = (
                f"not compared: {len(found.stale)} speaker labels enrolled only with another model than {model} "
                "(voiceprint reenrol)"
            )
        return Plan(details, found.chosen, seconds, options)
    # The object's own metadata wins over its file name (x-amz-meta-label), read from the header GET.
    label = submission_checks.check_label(first.metadata.get("label") or source.stem)
    if label in opted_out:
        raise Refusal(FailureCode.OPTED_OUT, "the speaker's label is on the opt-out list: nothing was submitted")
    consent = submission_checks.check_consent(first.metadata.get("consent"), required=require_consent)
    return Plan({"label": label, "model": model, **({"consentRef": consent} if consent else {})}, [], seconds)
