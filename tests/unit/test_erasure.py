"""Erasure by person (cli/voiceprint_cli/erasure.py) on in-memory fakes: who is deleted, what is redacted (inline
outputs and confidence maps included), what a group or a dry run limits, and the receipt."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import Any

from voiceprint import frozen
from voiceprint_cli.erasure import ERASED, Found, erase, redact_json
from voiceprint_cli.subject_export import export

NOW = 1_800_000_000.0


def _voiceprint(label: str, group: str = "team/", version: str = "v1") -> Found:
    return Found(
        pk=f"OBJ#in/voiceprints/{group}{label}.wav",
        sk=f"VER#{version}",
        bucket="in",
        key=f"voiceprints/{group}{label}.wav",
        version_id=version,
        kind="voiceprint",
        status="succeeded",
        group=group,
        label=label,
        job_id=f"job-{label}-{version}",
        completed_at=int(NOW) - 100,
    )


def _identification(
    name: str, candidates: tuple[str, ...], *, group: str = "team/", location: str | None = None
) -> Found:
    output = {
        "voiceprints": [{"speaker": "SPEAKER_00", "match": candidates[0], "confidence": {c: 50 for c in candidates}}]
    }
    return Found(
        pk=f"OBJ#in/identify/{group}{name}.wav",
        sk="VER#v1",
        bucket="in",
        key=f"identify/{group}{name}.wav",
        version_id="v1",
        kind="identify",
        status="succeeded",
        group=group,
        label=None,
        job_id=f"job-{name}",
        completed_at=int(NOW) - 50,
        candidates=candidates,
        matches=json.dumps([{"speaker": "SPEAKER_00", "match": candidates[0], "confidence": 50}]),
        result=None if location else json.dumps(output),
        result_location=location,
    )


class Fakes:
    def __init__(self, *found: Found) -> None:
        self.found = {(f.pk, f.sk): f for f in found}
        self.erased: list[str] = []
        self.outputs: dict[str, str] = {}
        self.deleted_sources: list[str] = []
        self.announced: list[dict[str, Any]] = []

    def mentioning(self, label: str) -> Iterator[Found]:  # a substring match, as the scan's `contains`
        for f in list(self.found.values()):
            if label in json.dumps([f.label, f.candidates, f.matches, f.result, f.reviews], ensure_ascii=False):
                yield f

    def erase(self, found: Found, now: float) -> None:
        self.erased.append(found.key)
        del self.found[(found.pk, found.sk)]

    def redact(
        self,
        found: Found,
        candidates: Sequence[str],
        matches: str | None,
        result: str | None,
        reviews: str | None = None,
    ) -> None:
        self.found[(found.pk, found.sk)] = frozen.replace(
            found,
            candidates=tuple(candidates),
            matches=matches,
            result=result,
            reviews=found.reviews if reviews is None else reviews,
        )

    def delete_versions(self, bucket: str, key: str) -> list[str]:
        self.deleted_sources.append(key)
        return ["v1"]

    def announce(self, receipt: dict[str, Any]) -> None:
        self.announced.append(receipt)

    def run(self, label: str, **options: Any) -> Any:
        defaults: dict[str, Any] = {"group": None, "with_source": False, "dry_run": False}
        return erase(
            label,
            **{**defaults, **options},
            records=self,
            sources=self,
            results=ResultsView(self),
            announcer=self,
            now=NOW,
        )

    # the results bucket
    def redact_output(self, location: str, label: str) -> bool:
        redacted, changed = redact_json(self.outputs[location], label)
        self.outputs[location] = str(redacted)
        return changed


class ResultsView:
    def __init__(self, fakes: Fakes) -> None:
        self.fakes = fakes

    def redact(self, location: str, label: str) -> bool:
        return self.fakes.redact_output(location, label)


def test_the_persons_voiceprints_go_and_their_label_is_redacted_everywhere_it_was_named() -> None:
    fakes = Fakes(
        _voiceprint("alice"),
        _voiceprint("alice", version="v2"),
        _voiceprint("bob"),
        _identification("call", ("alice", "bob")),
        _identification("bob-only", ("bob",)),
    )
    receipt = fakes.run("alice", with_source=True)
    assert fakes.erased == ["voiceprints/team/alice.wav", "voiceprints/team/alice.wav"]
    assert [i["key"] for i in receipt.identificationsRedacted] == ["identify/team/call.wav"]
    call = fakes.found[("OBJ#in/identify/team/call.wav", "VER#v1")]
    assert call.candidates == (ERASED, "bob")
    assert "alice" not in json.dumps([call.matches, call.result])
    assert json.loads(str(call.result))["voiceprints"][0]["confidence"] == {ERASED: 50, "bob": 50}
    assert fakes.deleted_sources == ["voiceprints/team/alice.wav"]  # once per key, every version
    assert receipt.vendor["deletedBy"] == "2027-01-16T07:59:10Z"  # the latest job (the call, NOW - 50 s) + 24 h
    assert [r["label"] for r in fakes.announced] == ["alice"]
    assert receipt.warnings == []  # the audio went too
    kept = Fakes(_voiceprint("alice")).run("alice")
    assert "enrol it again" in kept.warnings[0]  # without --with-source the audio could be enrolled again


def test_a_review_that_named_the_person_is_redacted_too() -> None:
    """A relabelled speaker may be someone the identification never compared against: the decision names them."""
    reviewed = frozen.replace(
        _identification("call", ("bob",)),
        reviews=json.dumps({"SPEAKER_01": {"decision": "relabelled", "label": "alice", "by": "ops", "at": 1}}),
    )
    fakes = Fakes(reviewed)
    receipt = fakes.run("alice")
    assert [i["key"] for i in receipt.identificationsRedacted] == ["identify/team/call.wav"]
    call = fakes.found[("OBJ#in/identify/team/call.wav", "VER#v1")]
    assert json.loads(str(call.reviews))["SPEAKER_01"]["label"] == ERASED
    assert call.candidates == ("bob",)


def test_a_label_that_only_contains_the_name_is_someone_else() -> None:
    fakes = Fakes(_voiceprint("alicia"), _identification("call", ("alicia",)))
    receipt = fakes.run("alic")
    assert (receipt.voiceprintsDeleted, receipt.identificationsRedacted, fakes.erased) == ([], [], [])


def test_a_group_limits_the_erasure_and_a_dry_run_changes_nothing() -> None:
    fakes = Fakes(_voiceprint("alice"), _voiceprint("alice", group="other/"), _identification("call", ("alice",)))
    dry = fakes.run("alice", group="team/", dry_run=True, with_source=True)
    assert [v["group"] for v in dry.voiceprintsDeleted] == ["team/"]
    assert (fakes.erased, fakes.deleted_sources, fakes.announced) == ([], [], [])
    assert dry.sourceVersionsDeleted == [{"bucket": "in", "key": "voiceprints/team/alice.wav", "versions": []}]
    fakes.run("alice", group="team/")
    assert fakes.erased == ["voiceprints/team/alice.wav"]  # the other group's alice stays


def test_an_output_kept_in_the_results_bucket_is_rewritten() -> None:
    stored = json.dumps({"voiceprints": [{"speaker": "S0", "match": "Zoé", "confidence": {"Zoé": 80}}]})
    fakes = Fakes(_identification("call", ("Zoé",), location="s3://results/identifications/job-call.json"))
    fakes.outputs["s3://results/identifications/job-call.json"] = stored
    receipt = erase(
        "Zoe\u0301",  # the same name typed in NFD: one person
        group=None,
        with_source=False,
        dry_run=False,
        records=fakes,
        sources=fakes,
        results=ResultsView(fakes),
        announcer=fakes,
        now=NOW,
    )
    assert [i["key"] for i in receipt.identificationsRedacted] == ["identify/team/call.wav"]
    assert "Zo" not in fakes.outputs["s3://results/identifications/job-call.json"]


def test_an_export_lists_the_samples_their_consent_and_the_identifications_that_name_them() -> None:
    consented = frozen.replace(_voiceprint("alice"), consent_ref="form-17")
    fakes = Fakes(
        consented, _voiceprint("bob"), _identification("call", ("alice", "bob")), _identification("x", ("bob",))
    )
    document = export("alice", group=None, records=fakes, opt_outs=[{"label": "alice", "group": "*"}], now=NOW)
    assert [(s["key"], s["consentRef"]) for s in document["samples"]] == [("voiceprints/team/alice.wav", "form-17")]
    [call] = document["identifications"]
    assert (call["key"], [m["speaker"] for m in call["matchedAs"]]) == ("identify/team/call.wav", ["SPEAKER_00"])
    assert document["optOuts"] == [{"label": "alice", "group": "*"}]
    assert document["exportedAt"] == "2027-01-15T08:00:00Z"
