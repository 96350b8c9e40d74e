"""AWS error codes, read in one place: botocore's ClientError carries them in `response["Error"]["Code"]`.

Imported by the adapters only (stores, sources, queues); each catches ClientError (never Exception), maps the
codes it expects to its own exceptions here or in one helper of its own, and lets the rest through. Services see
the adapters' exceptions only.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from botocore.exceptions import ClientError

CONDITIONAL_FAILURE = frozenset({"ConditionalCheckFailedException", "TransactionCanceledException"})
NOT_FOUND = frozenset({"NoSuchKey", "NoSuchVersion", "404", "NotFound"})


def error_code(exc: BaseException) -> str | None:
    """The AWS error code of a ClientError, None for anything else (a network error, a bug)."""
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code") or "") or None
    return None


def is_not_found(exc: BaseException) -> bool:
    return error_code(exc) in NOT_FOUND


class ConditionFailed(Exception):
    """A write's condition did not hold. `item` is the item that failed it, when the call asked for it
    (ReturnValuesOnConditionCheckFailure=ALL_OLD), decoded; else empty."""

    def __init__(self, item: dict[str, Any]) -> None:
        super().__init__("the condition of the write did not hold")
        self.item = item


@contextmanager
def conditional_failures(decode: Callable[[dict[str, Any]], dict[str, Any]]) -> Iterator[None]:
    """Within: a ClientError for a failed condition becomes ConditionFailed; any other error goes through."""
    try:
        yield
    except ClientError as exc:
        if error_code(exc) not in CONDITIONAL_FAILURE:
            raise
        response: dict[str, Any] = dict(exc.response)
        item = response.get("Item") or {}  # present with ReturnValuesOnConditionCheckFailure
        raise ConditionFailed(decode(item)) from None
