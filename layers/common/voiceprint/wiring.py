"""Builds the AWS clients and services a handler needs, once per cold start.

Kept apart from the services so they stay importable without AWS; every client honours AWS_ENDPOINT_URL, which
is how the local stack points the unchanged handlers at moto. Each factory imports its module when called, so a
function imports only the stores it uses (each module costs 2-5 ms of cold start: docs/BENCHMARKS.md).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import boto3
from botocore.config import Config

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_events import EventBridgeClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_secretsmanager import SecretsManagerClient
    from mypy_boto3_sqs import SQSClient

    from voiceprint.budget_store import BudgetStore
    from voiceprint.calibration_store import CalibrationStore
    from voiceprint.job_store import JobStore
    from voiceprint.label_health import LabelHealth
    from voiceprint.label_health_store import LabelHealthStore
    from voiceprint.opt_out_list import OptOutList
    from voiceprint.pyannote_client import PyannoteClient
    from voiceprint.rate_allowance import RateAllowance
    from voiceprint.record import Record
    from voiceprint.record_queries import RecordQueries
    from voiceprint.result_store import ResultStore
    from voiceprint.secret_source import SecretSource
    from voiceprint.settings import Settings

# Short timeouts and standard retries (with jitter) for AWS calls: a Lambda has no time for the defaults. No
# client-side parameter validation: AWS validates every request anyway, and botocore's walk of our records' many
# attributes was about a tenth of submit's warm CPU (docs/BENCHMARKS.md).
AWS_CONFIG = Config(
    connect_timeout=3, read_timeout=5, retries={"mode": "standard", "max_attempts": 4}, parameter_validation=False
)


def dynamodb() -> DynamoDBClient:
    return boto3.client("dynamodb", config=AWS_CONFIG)


def s3() -> S3Client:
    # boto3 presigns with SigV2 unless told otherwise; pyannoteAI gets a SigV4 URL.
    return boto3.client("s3", config=AWS_CONFIG.merge(Config(signature_version="s3v4")))


def sqs() -> SQSClient:
    return boto3.client("sqs", config=AWS_CONFIG)


def events() -> EventBridgeClient:
    return boto3.client("events", config=AWS_CONFIG)


def secretsmanager() -> SecretsManagerClient:
    return boto3.client("secretsmanager", config=AWS_CONFIG)


def secret(secret_id: str, settings: Settings, client: SecretsManagerClient) -> SecretSource:
    # Callers share one Secrets Manager client for all their secrets: each boto3 client costs ~40 ms cold.
    from voiceprint.secret_source import SecretSource

    return SecretSource(
        secret_id,
        max_age=settings.secret_cache_seconds,
        client=client,
        refresh_interval=settings.secret_refresh_seconds,
    )


def job_store(settings: Settings, client: DynamoDBClient | None = None) -> JobStore:
    from voiceprint.job_store import JobStore

    return JobStore(
        client or dynamodb(),
        settings.table_name,
        retention_days=settings.retention_days,
        voiceprint_retention_days=settings.voiceprint_retention_days,
    )


def record_queries(settings: Settings, client: DynamoDBClient | None = None) -> RecordQueries:
    """The records, read only (the results API)."""
    from voiceprint.record_queries import RecordQueries

    return RecordQueries(client or dynamodb(), settings.table_name)


def calibration_store(settings: Settings, client: DynamoDBClient) -> CalibrationStore:
    from voiceprint.calibration_store import CalibrationStore

    return CalibrationStore(client, settings.table_name)


def opt_out_list(settings: Settings, client: DynamoDBClient) -> OptOutList:
    from voiceprint.opt_out_list import OptOutList

    return OptOutList(client, settings.table_name)


class LazyLabelHealth:
    """The per-label health store (label_health_store), made on first use: most invocations (every voiceprint's
    webhook, every read but the health route) never touch it, and its modules would cost every cold start."""

    def __init__(self, settings: Settings, client: DynamoDBClient) -> None:
        self._settings, self._client = settings, client
        self._made: LabelHealthStore | None = None

    def _store(self) -> LabelHealthStore:
        if self._made is None:
            from voiceprint.label_health_store import LabelHealthStore

            self._made = LabelHealthStore(
                self._client, self._settings.table_name, keep_days=self._settings.retention_days
            )
        return self._made

    def observe(self, record: Record, now: float) -> None:
        self._store().observe(record, now)

    def labels(self, group: str) -> dict[str, LabelHealth]:
        return self._store().labels(group)


def label_health(settings: Settings, client: DynamoDBClient | None = None) -> LazyLabelHealth:
    return LazyLabelHealth(settings, client or dynamodb())


def budget_store(settings: Settings, client: DynamoDBClient) -> BudgetStore:
    from voiceprint.budget_store import BudgetStore

    return BudgetStore(client, settings.table_name)


READ_SHARERS = 2  # the reconciler and the webhook function draw on the job-read limit


def submit_allowance(settings: Settings, client: DynamoDBClient) -> RateAllowance:
    """The submit endpoint's share of pyannoteAI's limit, through the counter every container shares."""
    from voiceprint.rate_allowance import SUBMIT

    return _allowance(settings, client, SUBMIT, settings.submits_per_window, settings.submit_containers)


def read_allowance(settings: Settings, client: DynamoDBClient) -> RateAllowance:
    """The job-read endpoint's share of pyannoteAI's limit: the reconciler's polls and the webhook's fetches."""
    from voiceprint.rate_allowance import READ

    return _allowance(settings, client, READ, settings.job_reads_per_window, READ_SHARERS)


def _allowance(settings: Settings, client: DynamoDBClient, endpoint: str, limit: int, sharers: int) -> RateAllowance:
    from voiceprint.rate_allowance import RateAllowance
    from voiceprint.rate_token_store import RateTokenStore

    return RateAllowance(
        RateTokenStore(client, settings.table_name),
        endpoint,
        limit=limit,
        window_seconds=settings.rate_window_seconds,
        block=settings.rate_block_tokens,
        containers=sharers,
    )


def pyannote_client(
    settings: Settings, secrets: SecretsManagerClient, *, timeout_seconds: float | None = None
) -> PyannoteClient:
    # The webhook, events and read functions start without it (most webhooks never call the API).
    from voiceprint.pyannote_client import PyannoteClient

    api_key = secret(settings.api_key_secret_id, settings, secrets)
    return PyannoteClient(
        settings.api_base_url, api_key.current, timeout_seconds=timeout_seconds or settings.http_timeout_seconds
    )


def lazy_s3() -> Callable[[], S3Client]:
    """An S3 client made on first use: few invocations touch a stored result, and a client costs ~20 ms cold."""
    clients: list[S3Client] = []

    def client() -> S3Client:
        if not clients:
            clients.append(s3())
        return clients[0]

    return client


def result_store(settings: Settings, s3_client: S3Client | None = None) -> ResultStore:
    """With the caller's S3 client if it has one already (the submit function), else one made on first use."""
    from voiceprint.result_store import ResultStore

    client = (lambda: s3_client) if s3_client is not None else lazy_s3()
    return ResultStore(client, settings.results_bucket, inline_max_bytes=settings.inline_result_max_bytes)
