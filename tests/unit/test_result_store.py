from __future__ import annotations

import json
from typing import Any

from voiceprint.job_state import Kind, Status, outcome_from_job
from voiceprint.result_store import ResultStore

OUTPUT = {
    "diarization": [{"speaker": "SPEAKER_00", "start": 0.0, "end": 3.0}],
    "identification": [
        {"speaker": "SPEAKER_00", "start": 0.0, "end": 3.0, "diarizationSpeaker": "SPEAKER_00", "match": "bob"}
    ],
    "voiceprints": [{"speaker": "SPEAKER_00", "match": "bob", "confidence": {"bob": 97.0}}],
    "somethingNew": "not kept",
}


class FakeS3:
    def __init__(self) -> None:
        self.puts: list[dict[str, Any]] = []

    def put_object(self, **kwargs: Any) -> None:
        self.puts.append(kwargs)

    def generate_presigned_url(self, operation: str, *, Params: dict[str, str], ExpiresIn: int) -> str:
        return f"https://{Params['Bucket']}.example/{Params['Key']}?op={operation}&expires={ExpiresIn}"


def test_an_identification_output_is_kept_as_json_with_its_known_fields() -> None:
    outcome = outcome_from_job("succeeded", OUTPUT)
    assert (outcome.status, outcome.kind, outcome.voiceprint) == (Status.SUCCEEDED, Kind.IDENTIFY, None)
    assert outcome.result is not None
    assert json.loads(outcome.result) == {k: v for k, v in OUTPUT.items() if k != "somethingNew"}


def test_small_results_stay_inline_and_large_ones_go_to_s3_once_per_job() -> None:
    s3 = FakeS3()
    outcome = outcome_from_job("succeeded", OUTPUT)
    assert outcome.result is not None
    inline = ResultStore(lambda: s3, "results", inline_max_bytes=len(outcome.result)).place("job-1", outcome)  # type: ignore[arg-type,return-value]
    assert inline == outcome
    assert s3.puts == []

    placed = ResultStore(lambda: s3, "results", inline_max_bytes=10).place("job/1", outcome)  # type: ignore[arg-type,return-value]
    assert (placed.result, placed.result_location) == (None, "s3://results/identifications/job%2F1.json")
    assert placed.kind is Kind.IDENTIFY  # still an identification, now by its location
    [put] = s3.puts
    assert (put["Bucket"], put["Key"]) == ("results", "identifications/job%2F1.json")
    # The bucket's default encryption applies (AES256, or the stack's KMS key): no header that would override it.
    assert "ServerSideEncryption" not in put
    assert json.loads(put["Body"]) == json.loads(outcome.result)


def test_voiceprints_and_failures_are_never_moved() -> None:
    s3 = FakeS3()
    store = ResultStore(lambda: s3, "results", inline_max_bytes=0)  # type: ignore[arg-type,return-value]
    voiceprint = outcome_from_job("succeeded", {"voiceprint": "v" * 20000})
    failed = outcome_from_job("failed", {"error": "Could not load audio"})
    assert store.place("a", voiceprint) == voiceprint
    assert store.place("b", failed) == failed
    assert s3.puts == []


def test_the_results_api_links_a_result_kept_in_s3_and_nothing_outside_the_results_bucket() -> None:
    from voiceprint.read_service import RESULT_URL_SECONDS, ReadService
    from voiceprint.record import Record

    s3 = FakeS3()
    results = ResultStore(lambda: s3, "results", inline_max_bytes=10)  # type: ignore[arg-type,return-value]
    service = ReadService(None, results, default_bucket="input")  # type: ignore[arg-type]  # view() reads no records
    kept = Record.from_item(
        {"pk": "p", "sk": "s", "resultLocation": "s3://results/identifications/job-1.json", "status": "succeeded"}
    )
    assert service.view(kept)["resultUrl"] == (
        f"https://results.example/identifications/job-1.json?op=get_object&expires={RESULT_URL_SECONDS}"
    )
    elsewhere = Record.from_item(
        {"pk": "p", "sk": "s", "resultLocation": "s3://someone-else/identifications/job-1.json", "status": "succeeded"}
    )
    assert "resultUrl" not in service.view(elsewhere)
