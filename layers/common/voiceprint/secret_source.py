"""Secrets from AWS Secrets Manager through Powertools Parameters (cached per container, `max_age`).

The webhook secret is rotated with Secrets Manager's own staging labels: while pyannoteAI may still sign with
the old secret, the version labelled AWSPREVIOUS is accepted too. Powertools' cache key ignores VersionStage,
hence one provider per stage.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager import SecretsManagerClient


class SecretSource:
    def __init__(self, secret_id: str, *, max_age: int, client: SecretsManagerClient | None = None) -> None:
        from aws_lambda_powertools.utilities.parameters import SecretsProvider

        self._id = secret_id
        self._max_age = max_age
        self._current = SecretsProvider(boto3_client=client)
        self._previous = SecretsProvider(boto3_client=client)

    def current(self) -> str:
        if not self._id:
            raise RuntimeError("secret id is not configured")
        return str(self._current.get(self._id, max_age=self._max_age))

    def previous(self) -> str | None:
        from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError

        try:
            return str(self._previous.get(self._id, max_age=self._max_age, VersionStage="AWSPREVIOUS"))
        except GetParameterError:
            return None  # never rotated: there is no previous version

    def candidates(self, *, include_previous: bool) -> Iterator[str]:
        """Current first; the previous one is only fetched if the caller asks for it (lazy iteration)."""
        yield self.current()
        if include_previous:
            previous = self.previous()
            if previous:
                yield previous
