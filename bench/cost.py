"""AWS cost per million voiceprints from the measured counts. List prices, us-east-1, on-demand, no free tier,
as published by AWS at the time of writing (check https://aws.amazon.com/pricing before relying on them)."""

from __future__ import annotations

import math
from dataclasses import dataclass

PRICES = {
    "lambda_request": 0.20 / 1e6,  # per request
    "lambda_gb_second_arm64": 0.0000133334,  # per GB-second, arm64 (the template's architecture)
    "http_api_request": 1.00 / 1e6,  # API Gateway HTTP API, first 300 M/month
    "dynamodb_wru": 0.625 / 1e6,  # on-demand write request unit (1 KB)
    "dynamodb_rru": 0.125 / 1e6,  # on-demand read request unit (4 KB, strongly consistent)
    "s3_get": 0.0004 / 1000,  # GET (our header read, and pyannoteAI's fetch through the presigned URL)
    "sqs_request": 0.40 / 1e6,  # standard queue, per 64 KB request
    "secrets_api_call": 0.05 / 10_000,
    "logs_ingest_gb": 0.50,  # CloudWatch Logs ingestion (EMF metrics are log lines too)
    "transfer_out_gb": 0.09,  # S3 -> internet (pyannoteAI fetches the audio), first 10 TB/month
    "eventbridge_event": 1.00 / 1e6,  # custom events published (per 64 KB chunk)
}

# What cannot be measured on one machine, stated: AWS-side latencies added to the loopback timings for billed
# Lambda duration, and the audio size for the transfer to pyannoteAI.
ASSUMED = {
    "aws_call_ms": 8.0,  # a DynamoDB / S3 / Secrets Manager call from Lambda in-region
    "api_post_ms": 300.0,  # POST /v1/voiceprint to pyannoteAI over the internet
    "audio_mb": 1.0,  # 30 s of 16 kHz 16-bit mono WAV is 0.96 MB
    "events_batch_ms": 40.0,  # one events-function invocation: one PutEvents for up to 10 stream records
}


@dataclass(frozen=True)
class Line:
    item: str
    quantity_per_job: float
    unit_price: float
    basis: str

    @property
    def per_million(self) -> float:
        return self.quantity_per_job * self.unit_price * 1e6


# The budget's charge (budget_store): one transaction with the record, the group's and the stack's counters (an
# identification adds its dedup marker). A transactional write costs 2 write units per item (each under 1 KB).
BUDGET_ITEMS_VOICEPRINT = 3
TRANSACTION_WRU_PER_ITEM = 2


def dynamodb_wru_per_job(table_writes: float, result_item_bytes: int, transactions: float = 0.0) -> float:
    """Table writes (claim, jobId, result; the result item holds the voiceprint) plus the index writes they cause:
    the jobId write adds the record to byJobId (KEYS_ONLY) and byPending; the result removes it from byPending
    and adds it to byGroup (which projects the voiceprint, so it is sized like the result). Plus the budget's
    transactions (`transactions` of the `table_writes` calls), 2 units per item."""
    claim_and_submit = 2 * 1
    result = math.ceil(result_item_bytes / 1024)
    index_writes = 3 + result
    plain = table_writes - transactions
    budget = transactions * BUDGET_ITEMS_VOICEPRINT * TRANSACTION_WRU_PER_ITEM
    return claim_and_submit + result + index_writes + max(0.0, plain - 3) + budget


def estimate(
    *,
    submit_invocations_per_job: float,
    submit_ms_per_job: float,
    webhook_ms: float,
    memory_mb: int,
    table_writes_per_job: float,
    result_item_bytes: int,
    transactions_per_job: float,
    s3_gets_per_job: float,
    aws_calls_submit_per_job: float,
    log_bytes_per_job: float,
    sqs_batch: float,
    events_invocations_per_job: float,
) -> list[Line]:
    gb = memory_mb / 1024
    submit_billed = submit_ms_per_job + aws_calls_submit_per_job * ASSUMED["aws_call_ms"] + ASSUMED["api_post_ms"]
    webhook_billed = webhook_ms + ASSUMED["aws_call_ms"]
    return [
        Line(
            "Lambda requests (submit batches + one webhook)",
            submit_invocations_per_job + 1,
            PRICES["lambda_request"],
            "measured",
        ),
        Line(
            "Lambda GB-s, submit",
            submit_billed / 1000 * gb,
            PRICES["lambda_gb_second_arm64"],
            f"measured loopback time + {aws_calls_submit_per_job:.0f} AWS calls and the API POST at assumed latencies",
        ),
        Line(
            "Lambda GB-s, webhook", webhook_billed / 1000 * gb, PRICES["lambda_gb_second_arm64"], "measured + 1 write"
        ),
        Line("API Gateway HTTP API (webhook)", 1, PRICES["http_api_request"], "one delivery per job"),
        Line(
            "Lambda requests, events function",
            events_invocations_per_job,
            PRICES["lambda_request"],
            "measured (one per stream batch of up to 10; the stream reads themselves are free)",
        ),
        Line(
            "Lambda GB-s, events function",
            events_invocations_per_job * ASSUMED["events_batch_ms"] / 1000 * gb,
            PRICES["lambda_gb_second_arm64"],
            "assumed duration per batch",
        ),
        Line(
            "EventBridge events",
            2,
            PRICES["eventbridge_event"],
            "Ready or Failed, then Deleted when the record expires or its source is deleted",
        ),
        Line(
            "DynamoDB write request units",
            dynamodb_wru_per_job(table_writes_per_job, result_item_bytes, transactions_per_job),
            PRICES["dynamodb_wru"],
            f"3 table writes + 4 index writes; result item {result_item_bytes} B; the budget's transaction: "
            f"{BUDGET_ITEMS_VOICEPRINT} items x {TRANSACTION_WRU_PER_ITEM} units",
        ),
        Line("S3 GET (header read + pyannoteAI's fetch)", s3_gets_per_job + 1, PRICES["s3_get"], "measured + 1"),
        Line(
            "SQS requests (S3 send + batched receive + delete)",
            1 + 2 / sqs_batch,
            PRICES["sqs_request"],
            f"batches of {sqs_batch:.1f} measured",
        ),
        Line(
            "CloudWatch Logs ingestion (logs + EMF metrics)",
            log_bytes_per_job / 1e9,
            PRICES["logs_ingest_gb"],
            f"{log_bytes_per_job:.0f} B/job measured at INFO",
        ),
        Line(
            "Data transfer out to pyannoteAI",
            ASSUMED["audio_mb"] / 1000,
            PRICES["transfer_out_gb"],
            f"{ASSUMED['audio_mb']} MB of audio assumed",
        ),
    ]
