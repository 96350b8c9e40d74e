"""Which pyannoteAI model made a voiceprint. A voiceprint is an embedding of one model: an identification run with
another model cannot compare against it, so identification uses only the voiceprints of the model it runs with
(identify_candidates), and `voiceprint reenrol` makes new ones from the kept source audio."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from voiceprint.record import Record

DEFAULT = "precision-2"  # template.yaml's PyannoteModel default
# Records from before the model was recorded: PyannoteModel has only ever allowed precision-2, the vendor's default.
UNRECORDED = "precision-2"


def model_of(record: Record) -> str:
    return record.model or UNRECORDED


def is_stale(record: Record, current: str) -> bool:
    """A voiceprint another model made: identification with `current` leaves it out."""
    return model_of(record) != current
