from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from voiceprint.sqs_batch import process_partial_response


def _event(*ids: str) -> dict[str, Any]:
    return {"Records": [{"messageId": i, "body": i} for i in ids]}


def test_reports_only_the_records_that_raised_and_handles_every_record() -> None:
    seen: list[str] = []

    def handle(record: Mapping[str, Any]) -> None:
        seen.append(record["body"])
        if record["body"] in {"b", "d"}:
            raise RuntimeError("boom")

    result = process_partial_response(_event("a", "b", "c", "d"), handle)

    assert seen == ["a", "b", "c", "d"]  # a failure does not stop the batch (standard queue)
    assert result == {"batchItemFailures": [{"itemIdentifier": "b"}, {"itemIdentifier": "d"}]}


def test_an_all_good_or_empty_batch_reports_nothing() -> None:
    assert process_partial_response(_event("a"), lambda record: None) == {"batchItemFailures": []}
    assert process_partial_response({}, lambda record: None) == {"batchItemFailures": []}
