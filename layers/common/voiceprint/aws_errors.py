"""AWS error codes, read in one place: botocore's ClientError carries them in `response["Error"]["Code"]`.

Imported by the adapters only (stores, sources, queues); services see the adapters' own exceptions.
"""

from __future__ import annotations

from botocore.exceptions import ClientError

CONDITIONAL_FAILURE = frozenset({"ConditionalCheckFailedException", "TransactionCanceledException"})
NOT_FOUND = frozenset({"NoSuchKey", "NoSuchVersion", "404", "NotFound"})


def error_code(exc: BaseException) -> str | None:
    """The AWS error code of a ClientError, None for anything else (a network error, a bug)."""
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code") or "") or None
    return None


def is_conditional_failure(exc: BaseException) -> bool:
    return error_code(exc) in CONDITIONAL_FAILURE


def is_not_found(exc: BaseException) -> bool:
    return error_code(exc) in NOT_FOUND
