"""Secrets from AWS Secrets Manager, cached per container, with rotation in mind.

The webhook secret is rotated with Secrets Manager's own staging labels: while pyannoteAI may still sign with the
old secret, the version labelled AWSPREVIOUS is accepted too.

A small cache of our own rather than Powertools' SecretsProvider: a request that does not match must be able to
refresh the current version (a rotation just happened) without letting forged requests force a paid read each
(`refresh_interval` limits that to one per interval per container), and a secret that was never rotated has no
AWSPREVIOUS version, an absence that must be cached like a value or every forged request pays for a
GetSecretValue (Powertools caches values only).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from voiceprint.aws_errors import error_code

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager import SecretsManagerClient

CURRENT = "AWSCURRENT"
PREVIOUS = "AWSPREVIOUS"
# Secrets Manager's answers when a staging label is not attached to any version.
_ABSENT = frozenset({"ResourceNotFoundException"})


class SecretSource:
    def __init__(
        self,
        secret_id: str,
        *,
        max_age: int,
        client: SecretsManagerClient,
        refresh_interval: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._id = secret_id
        self._max_age = max_age
        self._client = client
        self._refresh_interval = refresh_interval
        self._clock = clock
        self._cache: dict[str, tuple[float, str | None]] = {}  # stage -> (fetched at, value or None if absent)
        self._last_forced = -refresh_interval  # the first mismatch of a container may refresh at once

    def _get(self, stage: str, *, force: bool = False) -> str | None:
        now = self._clock()
        cached = self._cache.get(stage)
        if cached is not None and not force and now - cached[0] < self._max_age:
            return cached[1]
        if not self._id:
            raise RuntimeError("secret id is not configured")
        try:
            value: str | None = self._client.get_secret_value(SecretId=self._id, VersionStage=stage)["SecretString"]
        except ClientError as exc:
            if stage == CURRENT or error_code(exc) not in _ABSENT:
                raise
            value = None  # never rotated: no previous version, and that is cached too
        self._cache[stage] = (now, value)
        return value

    def current(self) -> str:
        value = self._get(CURRENT)
        if value is None:  # only AWSPREVIOUS may be absent; this narrows the type
            raise RuntimeError("secret has no current version")
        return value

    def previous(self) -> str | None:
        return self._get(PREVIOUS)

    def _refreshed_current(self) -> str | None:
        """The current version read again, at most once per `refresh_interval`: None when not allowed now or
        when it has not changed (a rotation since the cached read is what a refresh is for)."""
        now = self._clock()
        if now - self._last_forced < self._refresh_interval:
            return None
        self._last_forced = now
        before = self._cache.get(CURRENT, (0.0, None))[1]
        after = self._get(CURRENT, force=True)
        # The previous version may have moved too (the old current became AWSPREVIOUS): read it again when needed.
        self._cache.pop(PREVIOUS, None)
        return after if after != before else None

    def candidates(self, *, include_previous: bool) -> Iterator[str]:
        """Current first; then, only if the caller keeps asking (lazy), the current version read again (rate
        limited), then the previous version."""
        yield self.current()
        fresh = self._refreshed_current()
        if fresh:
            yield fresh
        if include_previous:
            previous = self.previous()
            if previous:
                yield previous
