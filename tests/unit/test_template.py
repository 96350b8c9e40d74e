"""template.yaml and the code agree: every handler exists, every variable is read, and vice versa."""

from __future__ import annotations

import ast
import importlib.util
import re
from pathlib import Path
from typing import Any

import pytest

from voiceprint_local import template

ROOT = Path(__file__).resolve().parents[2]
SETTINGS = ROOT / "layers" / "common" / "voiceprint" / "settings.py"
POWERTOOLS_VARS = {"POWERTOOLS_SERVICE_NAME", "POWERTOOLS_METRICS_NAMESPACE", "LOG_LEVEL"}


def _vars_read_by_settings() -> set[str]:
    return set(re.findall(r'env(?:\.get\(|, )"([A-Z_]+)"', SETTINGS.read_text()))


def _declared_vars() -> set[str]:
    names = set(template.global_environment())
    for logical_id in template.functions():
        names |= set(template.function_environment(logical_id))
    return names


def test_every_declared_variable_is_read_and_every_read_variable_is_declared() -> None:
    read = _vars_read_by_settings()
    assert len(read) > 10  # the regex found the settings at all
    assert _declared_vars() - POWERTOOLS_VARS == read


@pytest.mark.parametrize("logical_id", list(template.functions()))
def test_every_function_handler_exists(logical_id: str) -> None:
    props = template.functions()[logical_id]["Properties"]
    module, func = props["Handler"].rsplit(".", 1)
    path = ROOT / props["CodeUri"] / f"{module}.py"
    tree = ast.parse(path.read_text())
    assert func in {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}


def test_every_function_directory_is_in_the_template() -> None:
    code_uris = {template.functions()[f]["Properties"]["CodeUri"].rstrip("/") for f in template.functions()}
    on_disk = {f"functions/{p.name}" for p in (ROOT / "functions").iterdir() if (p / "app.py").exists()}
    assert on_disk == code_uris


def _statements(logical_id: str) -> list[dict[str, Any]]:
    return [s for policy in template.functions()[logical_id]["Properties"]["Policies"] for s in policy["Statement"]]


@pytest.mark.parametrize("logical_id", list(template.functions()))
def test_policies_are_least_privilege(logical_id: str) -> None:
    for statement in _statements(logical_id):
        assert statement["Effect"] == "Allow"
        for action in statement["Action"]:
            assert "*" not in action, f"{logical_id}: wildcard action {action}"
        resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        assert "*" not in resources


def test_submit_cannot_write_results_it_does_not_own() -> None:
    actions = {a for s in _statements("SubmitFunction") for a in s["Action"]}
    assert "dynamodb:PutItem" not in actions
    assert "s3:PutObject" not in actions


def test_only_the_source_removal_path_deletes_records_and_events_never_touch_the_table() -> None:
    deleters = {
        logical_id
        for logical_id in template.functions()
        for s in _statements(logical_id)
        if "dynamodb:DeleteItem" in s["Action"] or "s3:DeleteObject" in s["Action"]
    }
    assert deleters == {"SubmitFunction"}  # it receives the s3:ObjectRemoved notifications
    assert {a for s in _statements("EventsFunction") for a in s["Action"]} == {"events:PutEvents", "sqs:SendMessage"}


def test_layer_ships_what_the_handlers_import_and_not_boto3() -> None:
    layer_reqs = (ROOT / "layers" / "common" / "requirements.txt").read_text()
    assert layer_reqs == (ROOT / "requirements-lambda.txt").read_text()
    assert "boto3" not in layer_reqs.lower().replace("boto3 comes with the runtime", "")
    assert "aws-lambda-powertools" in layer_reqs
    assert "mutagen" in layer_reqs


def test_runtime_matches_the_local_python() -> None:
    import sys

    runtime = template.load()["Globals"]["Function"]["Runtime"]
    assert runtime == f"python{sys.version_info.major}.{sys.version_info.minor}"
    layer = template.resources()["CommonLayer"]
    assert layer["Metadata"]["BuildMethod"] == runtime


def test_table_has_ttl_pitr_and_the_indexes_the_store_queries() -> None:
    from voiceprint.job_store import GSI_BY_GROUP, GSI_BY_JOB, GSI_BY_LABEL, GSI_BY_PENDING

    props = template.resources()["JobsTable"]["Properties"]
    assert props["TimeToLiveSpecification"] == {"AttributeName": "expiresAt", "Enabled": True}
    assert props["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert {g["IndexName"] for g in props["GlobalSecondaryIndexes"]} == {
        GSI_BY_JOB,
        GSI_BY_PENDING,
        GSI_BY_GROUP,
        GSI_BY_LABEL,
    }


def test_bucket_is_private_encrypted_and_tls_only() -> None:
    bucket = template.resources()["InputBucket"]["Properties"]
    assert all(bucket["PublicAccessBlockConfiguration"].values())
    assert bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]
    [deny] = template.resources()["InputBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert deny["Effect"] == "Deny"
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_webhook_url_is_derived_from_the_stack() -> None:
    env = template.function_environment("SubmitFunction")
    assert env["WEBHOOK_URL"] == {
        "Fn::Sub": "https://${HttpApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}/webhooks/pyannote"
    }
    events = template.functions()["WebhookFunction"]["Properties"]["Events"]
    assert events["Webhook"]["Properties"]["Path"] == "/webhooks/pyannote"


def test_visibility_timeout_outlasts_the_claim_lease() -> None:
    lease = int(template.function_environment("SubmitFunction")["CLAIM_LEASE_SECONDS"])
    timeout = (
        template.functions()["SubmitFunction"]["Properties"].get("Timeout")
        or template.load()["Globals"]["Function"]["Timeout"]
    )
    visibility = template.queue_properties("InputQueue")["VisibilityTimeout"]
    assert timeout < lease <= visibility
    assert visibility >= 6 * timeout  # AWS guidance for SQS event sources


def test_handlers_import_without_aws() -> None:
    # The layer package must stay importable with no AWS around (thin handlers, testable domain).
    for name in ("job_state", "webhook_signature", "backoff", "object_ref", "settings"):
        assert importlib.util.find_spec(f"voiceprint.{name}") is not None


def test_vendored_contract_matches_shared_when_present() -> None:
    shared = ROOT.parent / "shared" / "pyannote"
    if not shared.exists():
        pytest.skip("../shared/pyannote is not beside this checkout")
    for name in ("openapi.json", "API_NOTES.md"):
        assert (ROOT / "contracts" / "pyannote" / name).read_bytes() == (shared / name).read_bytes()
