"""`voiceprint calibrate`: how well each matching threshold would have done on a group's past identifications,
measured against the decisions people made in review, with no new API call.

Each reviewed speaker is one observation: the best candidate pyannoteAI scored for them, that score, and who they
were (confirmed: that candidate; relabelled: another label; rejected: nobody). At threshold T the rule is the
vendor's without exclusivity: the best candidate is the match when its score is at least T, else nobody.

    precision(T) = right matches / matches made          recall(T) = right matches / speakers someone was

The proposal is the lowest threshold whose precision reaches the target (so the most people are recognised at that
precision); with none, the one with the best F1. Only reviewed speakers count: they are the grey band, where a
threshold makes a difference, and the report says how many there were.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from voiceprint.frozen import frozen
from voiceprint.record import Record
from voiceprint.review import Decision, best_of

THRESHOLDS = tuple(range(0, 101))


@frozen
class Observation:
    job_id: str
    speaker: str
    best: str | None
    score: float | None
    truth: str | None  # who the speaker was, as reviewed (None: nobody enrolled)


@frozen
class Point:
    threshold: int
    matched: int
    right: int
    wrong: int
    missed: int  # speakers someone was, not matched to them

    @property
    def precision(self) -> float | None:
        return self.right / self.matched if self.matched else None

    @property
    def recall(self) -> float | None:
        known = self.right + self.missed
        return self.right / known if known else None

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p and r else 0.0


@frozen
class Change:
    """A past identification's speaker whose match a threshold would change."""

    job_id: str
    key: str | None
    speaker: str
    was: str | None
    would_be: str | None
    score: float | None


def observations(records: Iterable[Record]) -> list[Observation]:
    """The reviewed speakers of these identifications (each speaker's newest decision)."""
    found = []
    for record in records:
        decided = record.reviews_map()
        for entry in record.matches_list():
            speaker = str(entry.get("speaker"))
            decision = decided.get(speaker)
            if decision is None:
                continue
            best, score = best_of(entry)
            truth = None if Decision(decision["decision"]) is Decision.REJECTED else decision.get("label")
            found.append(Observation(str(record.job_id), speaker, best, score, truth))
    return found


def point(observed: Sequence[Observation], threshold: int) -> Point:
    matched = right = wrong = missed = 0
    for o in observed:
        guess = o.best if o.score is not None and o.score >= threshold else None
        if guess is not None:
            matched += 1
            if guess == o.truth:
                right += 1
            else:
                wrong += 1
        if o.truth is not None and guess != o.truth:
            missed += 1
    return Point(threshold, matched, right, wrong, missed)


def curve(observed: Sequence[Observation]) -> list[Point]:
    return [point(observed, t) for t in THRESHOLDS]


def propose(points: Sequence[Point], target_precision: float) -> Point | None:
    """The lowest threshold whose precision reaches the target, else the best F1 (None: nothing to go on)."""
    reaching = [p for p in points if p.precision is not None and p.precision >= target_precision]
    if reaching:
        return min(reaching, key=lambda p: p.threshold)
    useful = [p for p in points if p.f1 > 0]
    return max(useful, key=lambda p: (p.f1, -p.threshold)) if useful else None


def shadow(records: Iterable[Record], threshold: int) -> list[Change]:
    """Every past speaker whose match `threshold` would change (reviewed or not), under the same rule."""
    changes = []
    for record in records:
        for entry in record.matches_list():
            best, score = best_of(entry)
            would_be = best if score is not None and score >= threshold else None
            was = entry.get("match")
            if would_be != was:
                changes.append(
                    Change(str(record.job_id), record.object_key, str(entry.get("speaker")), was, would_be, score)
                )
    return changes
