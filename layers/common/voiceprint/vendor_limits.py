"""pyannoteAI's limits (API_NOTES.md, openapi.json), in one place: they are the vendor's, not ours to tune."""

from __future__ import annotations

import re
from typing import Any, TypeGuard

from voiceprint.job_state import Kind

# POST /v1/voiceprint
MAX_AUDIO_SECONDS = 30.0
MAX_AUDIO_BYTES = 100 * 1024 * 1024
# POST /v1/identify
MAX_IDENTIFY_SECONDS = 24 * 3600.0
MAX_IDENTIFY_BYTES = 1024 * 1024 * 1024
# Voiceprints one identification may compare against (IdentifyRequest.voiceprints: 1 to 50).
MAX_IDENTIFY_VOICEPRINTS = 50
# Voiceprint.label: at most 100 characters, never starting with "SPEAKER_" (the spec's pattern says lowercase
# "speaker_", its prose uppercase: both are refused).
MAX_LABEL_LENGTH = 100
RESERVED_LABEL_PREFIX = "speaker_"
# A jobId longer than this is not one of the vendor's (they are UUIDs); index keys stop at 2,048 bytes anyway.
MAX_JOB_ID_LENGTH = 200
# The spec gives jobIds no pattern; its examples are UUIDs. Characters outside these would be unsafe in URLs and logs.
_JOB_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]*")


def valid_job_id(value: Any) -> TypeGuard[str]:
    return isinstance(value, str) and 0 < len(value) <= MAX_JOB_ID_LENGTH and _JOB_ID.fullmatch(value) is not None


def max_bytes(kind: Kind) -> int:
    return MAX_IDENTIFY_BYTES if kind is Kind.IDENTIFY else MAX_AUDIO_BYTES


def max_seconds(kind: Kind) -> float:
    return MAX_IDENTIFY_SECONDS if kind is Kind.IDENTIFY else MAX_AUDIO_SECONDS
