"""`voiceprint export --label NAME [--group G]`: a subject-access export (issue 15: GDPR Art. 15) as JSON: the
records made from the person's samples (with their consent references), the identifications that name them (what
they were matched with, and how confidently), their opt-out entries, the dates, and where else their data is.

The voiceprint itself is left out: it is a vendor's embedding, meaningful to no one but pyannoteAI; the export
says which records hold one, and the results API returns it to an authorised caller (`voiceprint=true`)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from voiceprint.submission_checks import normalise_label
from voiceprint_cli.erasure import VENDOR_OUTPUT_HOURS, PersonRecords


def _iso(seconds: float | None) -> str | None:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if seconds else None


def _mentions(found_matches: str | None, label: str) -> list[dict[str, Any]]:
    try:
        matches = json.loads(found_matches or "[]")
    except ValueError:
        return []
    return [m for m in matches if isinstance(m, dict) and normalise_label(str(m.get("match") or "")) == label]


def export(
    label: str, *, group: str | None, records: PersonRecords, opt_outs: list[dict[str, Any]], now: float
) -> dict[str, Any]:
    label = normalise_label(label)
    samples: list[dict[str, Any]] = []
    identifications: list[dict[str, Any]] = []
    for found in records.mentioning(label):
        if group is not None and found.group != group:
            continue
        where = {"bucket": found.bucket, "key": found.key, "versionId": found.version_id, "group": found.group}
        dates = {"uploadedAt": _iso(found.created_at), "completedAt": _iso(found.completed_at)}
        if found.kind == "voiceprint" and found.label is not None and normalise_label(found.label) == label:
            samples.append(
                {
                    **where,
                    **dates,
                    "status": found.status,
                    "failureCode": found.failure_code,
                    "consentRef": found.consent_ref,
                    "holdsVoiceprint": found.status == "succeeded",
                    "jobId": found.job_id,
                }
            )
        elif label in (normalise_label(c) for c in found.candidates):
            identifications.append(
                {
                    **where,
                    **dates,
                    "jobId": found.job_id,
                    "comparedAgainst": True,
                    "matchedAs": _mentions(found.matches, label),
                    "fullOutput": found.result_location or ("on the record" if found.result else None),
                }
            )
    return {
        "label": label,
        "group": group,
        "exportedAt": _iso(now),
        "samples": samples,
        "identifications": identifications,
        "optOuts": [o for o in opt_outs if o["label"] == label and (group is None or o["group"] in ("*", group))],
        "elsewhere": {
            "sourceAudio": "the input bucket, at the samples' keys and versions above",
            "pyannoteAI": f"job outputs for {VENDOR_OUTPUT_HOURS} h after each job's completion",
            "events": "Voiceprint Ready/Failed and Identification Ready events named this label when they happened",
        },
    }
