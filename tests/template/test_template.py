"""template.yaml and the code agree: every handler exists, every variable is read, and vice versa."""

from __future__ import annotations

import ast
import importlib.util
import json
import re
from pathlib import Path
from typing import Any

import pytest

from voiceprint import budget_store, change_events, object_ref
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


@pytest.fixture(scope="module")
def translated() -> dict[str, Any]:
    """template.yaml as CloudFormation, by AWS SAM's own translator (tools venv): the roles SAM generates
    (managed policies, event source permissions) included, not only the policies written by hand."""
    import json
    import os
    import subprocess

    python = ROOT / ".venv-tools" / "bin" / "python"
    if not python.exists():
        pytest.fail("the tools venv is missing: run scripts/test.sh once (it makes .venv-tools)")
    script = ROOT / "local" / "voiceprint_local" / "sam_translate.py"
    env = {**os.environ, "AWS_DEFAULT_REGION": "us-east-1"}
    command = [str(python), str(script)]  # our own script, in our own venv
    out = subprocess.run(command, capture_output=True, text=True, check=True, env=env, timeout=120)  # noqa: S603
    return dict(json.loads(out.stdout))


def _role(translated: dict[str, Any], function: str) -> dict[str, Any]:
    role_ref = translated["Resources"][function]["Properties"]["Role"]
    return dict(translated["Resources"][role_ref["Fn::GetAtt"][0]]["Properties"])


def _branches(statement: Any) -> list[dict[str, Any]]:
    """A statement, or both branches of an Fn::If (the KMS grant exists only with KmsKeyArn): each is checked."""
    if isinstance(statement, dict) and "Fn::If" in statement:
        return [b for b in statement["Fn::If"][1:] if b != {"Ref": "AWS::NoValue"}]
    return [statement]


def _statements(translated: dict[str, Any], function: str) -> list[dict[str, Any]]:
    role = _role(translated, function)
    return [
        branch
        for policy in role.get("Policies", [])
        for statement in policy["PolicyDocument"]["Statement"]
        for branch in _branches(statement)
    ]


def _actions(statement: dict[str, Any]) -> list[str]:
    return statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]


# X-Ray has no resource-level permissions: its two write actions are the only ones allowed on "*".
RESOURCELESS = {"xray:PutTraceSegments", "xray:PutTelemetryRecords"}
# What SAM may attach: logs (*) and X-Ray writes. Never AWSLambdaSQSQueueExecutionRole (every queue) or
# AWSLambdaDynamoDBExecutionRole (every stream).
ALLOWED_MANAGED = {
    "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
    "arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess",
}


@pytest.mark.parametrize("logical_id", list(template.functions()))
def test_roles_as_cloudformation_gets_them_are_least_privilege(translated: dict[str, Any], logical_id: str) -> None:
    role = _role(translated, logical_id)
    managed = {arn if isinstance(arn, str) else json_text(arn) for arn in role.get("ManagedPolicyArns", [])}
    assert managed <= ALLOWED_MANAGED, f"{logical_id}: {managed - ALLOWED_MANAGED}"
    for statement in _statements(translated, logical_id):
        assert statement["Effect"] == "Allow"
        for action in _actions(statement):
            assert "*" not in action, f"{logical_id}: wildcard action {action}"
        resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        if "*" in resources:
            assert set(_actions(statement)) <= RESOURCELESS, f"{logical_id}: {statement}"


def json_text(value: Any) -> str:
    import json

    return json.dumps(value, sort_keys=True)


def test_the_queue_and_stream_readers_are_scoped_to_their_own_queue_and_stream(translated: dict[str, Any]) -> None:
    submit = [s for s in _statements(translated, "SubmitFunction") if "sqs:ReceiveMessage" in _actions(s)]
    assert [s["Resource"] for s in submit] == [{"Fn::GetAtt": ["InputQueue", "Arn"]}]
    events = [s for s in _statements(translated, "EventsFunction") if "dynamodb:GetRecords" in _actions(s)]
    assert [s["Resource"] for s in events] == [{"Fn::GetAtt": ["JobsTable", "StreamArn"]}]


def test_submit_cannot_write_results_it_does_not_own(translated: dict[str, Any]) -> None:
    actions = {a for s in _statements(translated, "SubmitFunction") for a in _actions(s)}
    assert "dynamodb:PutItem" not in actions
    assert "s3:PutObject" not in actions


def test_only_the_source_removal_path_deletes_records_and_events_never_touch_the_table(
    translated: dict[str, Any],
) -> None:
    record_deleters = {
        logical_id
        for logical_id in template.functions()
        for s in _statements(translated, logical_id)
        if "dynamodb:DeleteItem" in _actions(s)
    }
    assert record_deleters == {"SubmitFunction"}  # it receives the s3:ObjectRemoved notifications
    # The functions that settle jobs may take back a result they placed for a record deleted meanwhile: in the
    # results bucket's identifications/ only.
    object_deleters = {
        logical_id: s["Resource"]
        for logical_id in template.functions()
        for s in _statements(translated, logical_id)
        if "s3:DeleteObject" in _actions(s)
    }
    assert set(object_deleters) == {"SubmitFunction", "WebhookFunction", "ReconcilerFunction"}
    for logical_id in ("WebhookFunction", "ReconcilerFunction"):
        assert object_deleters[logical_id] == {"Fn::Sub": "${ResultsBucket.Arn}/identifications/*"}, logical_id
    events_actions = {a for s in _statements(translated, "EventsFunction") for a in _actions(s)}
    assert {a for a in events_actions if a.startswith("dynamodb:")} == {
        "dynamodb:DescribeStream",
        "dynamodb:GetRecords",
        "dynamodb:GetShardIterator",
        "dynamodb:ListStreams",
    }  # the stream only: never the table's items
    assert {"events:PutEvents", "sqs:SendMessage"} <= events_actions


def test_every_alarm_notifies_the_optional_topic(translated: dict[str, Any]) -> None:
    alarms = {k: v for k, v in translated["Resources"].items() if v["Type"] == "AWS::CloudWatch::Alarm"}
    assert {"FunctionErrorsAlarm", "InputQueueAgeAlarm", "PendingJobsAgeAlarm", "ApiServerErrorsAlarm"} <= set(alarms)
    for name, alarm in alarms.items():
        assert alarm["Properties"]["AlarmActions"]["Fn::If"][0] == "HasAlarmTopic", name


def test_every_function_logs_to_its_own_log_group_with_retention(translated: dict[str, Any]) -> None:
    for logical_id in template.functions():
        group = translated["Resources"][logical_id]["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]
        assert translated["Resources"][group]["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}


def test_stateful_resources_are_kept_and_https_only() -> None:
    table = template.resources()["JobsTable"]
    assert (table["DeletionPolicy"], table["UpdateReplacePolicy"]) == ("Retain", "Retain")
    assert table["Properties"]["DeletionProtectionEnabled"] is True
    bucket = template.resources()["InputBucket"]
    assert (bucket["DeletionPolicy"], bucket["UpdateReplacePolicy"]) == ("Retain", "Retain")
    assert template.load()["Parameters"]["PyannoteApiUrl"]["AllowedPattern"].startswith("^https://")
    for queue in ("DeadLetterQueue", "EventsDeadLetterQueue"):
        policies = [
            p
            for p in template.resources("AWS::SQS::QueuePolicy").values()
            if {"Ref": queue} in p["Properties"]["Queues"]
        ]
        [deny] = [s for p in policies for s in p["Properties"]["PolicyDocument"]["Statement"] if s["Effect"] == "Deny"]
        assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    params = template.load()["Parameters"]
    assert params["WebhookThrottleRate"]["MaxValue"] <= 500
    assert params["WebhookThrottleBurst"]["MaxValue"] <= 1000


def test_layer_ships_what_the_handlers_import_and_not_boto3() -> None:
    layer_reqs = (ROOT / "layers" / "common" / "requirements.txt").read_text()
    lock = (ROOT / "requirements-lambda.lock").read_text()
    assert layer_reqs.endswith(lock)  # scripts/lock.sh copies the lock, whole closure and hashes, behind a header
    assert "boto3" not in lock.lower()
    assert "aws-lambda-powertools" in layer_reqs
    assert "mutagen" in layer_reqs


def test_runtime_matches_the_local_python() -> None:
    import sys

    runtime = template.load()["Globals"]["Function"]["Runtime"]
    assert runtime == f"python{sys.version_info.major}.{sys.version_info.minor}"
    layer = template.resources()["CommonLayer"]
    assert layer["Metadata"]["BuildMethod"] == "makefile"  # pip + compileall for the runtime's Python
    assert "PYTHON ?= " + runtime in (ROOT / "layers" / "common" / "Makefile").read_text()


def test_table_has_ttl_pitr_and_the_indexes_the_store_queries() -> None:
    from voiceprint.record_queries import GSI_BY_GROUP, GSI_BY_JOB, GSI_BY_LABEL, GSI_BY_PENDING, GSI_BY_REVIEW

    props = template.resources()["JobsTable"]["Properties"]
    assert props["TimeToLiveSpecification"] == {"AttributeName": "expiresAt", "Enabled": True}
    assert props["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert {g["IndexName"] for g in props["GlobalSecondaryIndexes"]} == {
        GSI_BY_JOB,
        GSI_BY_PENDING,
        GSI_BY_GROUP,
        GSI_BY_LABEL,
        GSI_BY_REVIEW,
    }


def test_bucket_is_private_encrypted_and_tls_only() -> None:
    bucket = template.resources()["InputBucket"]["Properties"]
    assert all(bucket["PublicAccessBlockConfiguration"].values())
    assert bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]
    [deny] = template.resources()["InputBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert deny["Effect"] == "Deny"
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_every_removal_of_source_audio_reaches_the_queue_and_its_expiry_is_optional() -> None:
    """Issue 15: voiceprints have no TTL by default, so whatever removes a source object, a user or a lifecycle
    rule (old versions after RetentionDays, or SourceAudioExpirationDays), must be notified to take its records."""
    bucket = template.resources()["InputBucket"]["Properties"]

    def branch(entry: dict[str, Any]) -> dict[str, Any]:
        return dict(entry["Fn::If"][1]) if "Fn::If" in entry else entry

    queued = {
        (branch(q)["Event"], json.dumps(branch(q)["Filter"]["S3Key"]["Rules"][0]))
        for q in bucket["NotificationConfiguration"]["QueueConfigurations"]
    }
    for prefix in ("VoiceprintPrefix", "IdentifyPrefix"):
        rule = json.dumps({"Name": "prefix", "Value": {"Ref": prefix}})
        for event in ("s3:ObjectCreated:*", "s3:ObjectRemoved:*", "s3:LifecycleExpiration:*"):
            assert (event, rule) in queued
    rules = bucket["LifecycleConfiguration"]["Rules"]
    [expiry] = [r["Fn::If"] for r in rules if "Fn::If" in r]
    assert expiry[0] == "HasSourceExpiry"
    assert expiry[1]["ExpirationInDays"] == {"Ref": "SourceAudioExpirationDays"}
    assert template.parameter_defaults()["VoiceprintRetentionDays"] == "0"


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


def test_the_reconciler_is_invoked_asynchronously_with_retries_off_on_purpose(translated: dict[str, Any]) -> None:
    """The Scheduler invokes Lambda asynchronously: neither it nor Lambda's async retries repeat a failed run
    (the next run carries on from the oldest record; a retried run would only spend the job-read budget twice)."""
    resources = translated["Resources"]
    [schedule] = [r for r in resources.values() if r["Type"] == "AWS::Scheduler::Schedule"]
    assert schedule["Properties"]["Target"]["RetryPolicy"]["MaximumRetryAttempts"] == 0
    [invoke_config] = [r for r in resources.values() if r["Type"] == "AWS::Lambda::EventInvokeConfig"]
    assert invoke_config["Properties"]["FunctionName"] == {"Ref": "ReconcilerFunction"}
    assert invoke_config["Properties"]["MaximumRetryAttempts"] == 0
    assert resources["ReconcilerFunction"]["Properties"]["ReservedConcurrentExecutions"] == 1


def test_every_requirement_set_is_locked_with_hashes_and_the_layer_installs_with_require_hashes() -> None:
    """Issue 18, item 10: every set a script installs has a lock whose every pin carries a sha256, and each lock
    holds at least the pins of its input (scripts/lock.sh regenerates them)."""
    import re

    for source in sorted(ROOT.glob("requirements-*.txt")):
        lock = source.with_suffix(".lock").read_text()
        pins = re.findall(r"^([A-Za-z0-9_.-]+)==\S+ \\$", lock, re.M)
        assert pins, source.name
        for block in re.split(r"\n(?=[A-Za-z0-9_.-]+==)", lock.split("\n", 1)[1] if lock.startswith("#") else lock):
            if "==" in block.split("\n", 1)[0]:
                assert "--hash=sha256:" in block, (source.name, block[:80])
        wanted = re.findall(r"^([A-Za-z0-9_.-]+)==", source.read_text(), re.M)
        normal = {p.lower().replace("_", "-") for p in pins}
        assert {w.lower().replace("_", "-") for w in wanted} <= normal, source.name
    assert "--require-hashes" in (ROOT / "layers" / "common" / "Makefile").read_text()
    assert "--require-hashes" in (ROOT / "scripts" / "_venv.sh").read_text()


SECTIONS = ("Code", "Ingest", "Storage", "API", "Functions", "Events", "Alarms", "Dashboard")


def test_the_template_reads_in_sections_with_the_table_key_layout_above_the_table() -> None:
    text = template.TEMPLATE_PATH.read_text()
    banners = re.findall(r"^  # =+\n  # (\w+)[: ].*\n  # =+$", text, flags=re.MULTILINE)
    assert tuple(banners) == SECTIONS
    layout = text[text.index("  # Storage:") : text.index("  JobsTable:")]
    prefixes = (change_events.RECORD_PK_PREFIX, *budget_store.RECORD_PREFIXES)
    assert all(f'pk "{p}' in layout for p in prefixes), "every kind of item the code writes, above the table"
    assert object_ref.record_keys("b", "k", "v")["sk"].startswith("VER#")
    assert 'sk "VER#' in layout
    indexes = [i["IndexName"] for i in template.resources()["JobsTable"]["Properties"]["GlobalSecondaryIndexes"]]
    assert all(f"{name} (" in layout for name in indexes), "every index, with its keys"


def test_the_readme_layout_names_every_module() -> None:
    readme = (ROOT / "README.md").read_text()
    layout = readme[readme.index("## Layout") : readme.index("## What the tests cover")]
    words = set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", layout))
    folders = ["layers/common/voiceprint", "local/voiceprint_local", "local/voiceprint_local/reliability"]
    folders += ["cli/voiceprint_cli", "bench", "functions"]
    missing = []
    for folder in folders:
        for path in sorted((ROOT / folder).iterdir()):
            name = path.stem if path.suffix == ".py" else path.name if path.is_dir() else ""
            if not name or name.startswith(".") or name in {"__init__", "__pycache__"} or path.name.endswith(".txt"):
                continue
            if name.startswith("floor_"):
                name = "floor_"  # the floors are named together
            if name not in words and f"{name}*" not in layout:
                missing.append(f"{folder}/{path.name}")
    assert missing == []


def _metrics_the_code_emits() -> set[str]:
    code = "".join(p.read_text() for p in (ROOT / "layers" / "common" / "voiceprint").glob("*.py"))
    return set(re.findall(r'name="([A-Za-z]+)"', code))


def test_the_dashboard_shows_metrics_the_code_emits_and_the_stacks_own_queues() -> None:
    text, names = template.resources()["Dashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
    assert names == {
        "InputQueueName": {"Fn::GetAtt": ["InputQueue", "QueueName"]},
        "DeadLetterQueueName": {"Fn::GetAtt": ["DeadLetterQueue", "QueueName"]},
        "EventsDeadLetterQueueName": {"Fn::GetAtt": ["EventsDeadLetterQueue", "QueueName"]},
    }
    for placeholder in ("AWS::Region", *names):
        text = text.replace("${" + placeholder + "}", f"<{placeholder}>")
    assert "${" not in text
    widgets = json.loads(text)["widgets"]
    emitted = _metrics_the_code_emits()
    shown: list[str] = []
    for widget in widgets:
        for metric in widget["properties"]["metrics"]:
            if isinstance(metric[0], dict):
                shown += re.findall(r'MetricName=\\?"(\w+)', metric[0]["expression"])
            elif metric[0] == "VoiceprintPipeline":
                shown.append(metric[1])
                assert metric[2:4] == ["service", "voiceprint-pipeline"]
            else:
                assert metric[0] == "AWS/SQS"
                assert metric[3] in {"<InputQueueName>", "<DeadLetterQueueName>", "<EventsDeadLetterQueueName>"}
    assert set(shown) <= emitted, set(shown) - emitted
    # What issue 14 asks to see: submits, successes, failures by code, 429s, the oldest message, the backlog, DLQs.
    wanted = {"JobsSubmitted", "JobsSucceeded", "FailuresByCode", "ApiThrottled", "OldestPendingAgeSeconds"}
    assert wanted <= set(shown)
    sqs = {(m[1], m[3]) for w in widgets for m in w["properties"]["metrics"] if m[0] == "AWS/SQS"}
    assert ("ApproximateAgeOfOldestMessage", "<InputQueueName>") in sqs
    assert ("ApproximateNumberOfMessagesVisible", "<EventsDeadLetterQueueName>") in sqs


def _bucket_references(node: Any, guarded: bool = False) -> list[bool]:
    """For each reference to InputBucket under `node`: whether it is only reached when the stack creates it."""
    if isinstance(node, dict):
        if set(node) == {"Fn::If"} and node["Fn::If"][0] == "CreateBucket":
            _, created, existing = node["Fn::If"]
            return _bucket_references(created, True) + _bucket_references(existing, guarded)
        found: list[bool] = []
        if node.get("Ref") == "InputBucket" or (node.get("Fn::GetAtt") or [None])[0] == "InputBucket":
            found.append(guarded)
        if isinstance(node.get("Fn::Sub"), str) and "${InputBucket" in node["Fn::Sub"]:
            found.append(guarded)
        for value in node.values():
            found += _bucket_references(value, guarded)
        return found
    if isinstance(node, list):
        return [f for item in node for f in _bucket_references(item, guarded)]
    return []


def test_with_an_existing_bucket_nothing_refers_to_the_bucket_the_stack_would_create() -> None:
    loaded = template.load()
    for logical_id, resource in loaded["Resources"].items():
        created_only = resource.get("Condition") == "CreateBucket"
        assert all(_bucket_references(resource, created_only)), logical_id
    assert all(_bucket_references(loaded["Outputs"]))
    assert {k for k, r in loaded["Resources"].items() if r.get("Condition") == "CreateBucket"} == {
        "InputBucket",
        "InputBucketPolicy",
    }


def test_the_existing_buckets_rule_forwards_its_creations_and_deletions_under_the_prefixes_to_the_queue() -> None:
    rule = template.resources()["ExistingBucketEvents"]
    assert rule["Condition"] == "UseExistingBucket"
    props = rule["Properties"]
    assert props["EventBusName"] == "default"  # where S3 sends its events
    pattern = props["EventPattern"]
    assert pattern["source"] == ["aws.s3"]
    assert pattern["detail-type"] == ["Object Created", "Object Deleted"]
    assert pattern["detail"]["bucket"]["name"] == [{"Ref": "ExistingBucketName"}]
    assert pattern["detail"]["object"]["key"][0] == {"prefix": {"Ref": "VoiceprintPrefix"}}
    assert props["Targets"] == [{"Id": "InputQueue", "Arn": {"Fn::GetAtt": ["InputQueue", "Arn"]}}]
    statements = template.resources()["InputQueuePolicy"]["Properties"]["PolicyDocument"]["Statement"]
    [allowed] = [s["Fn::If"][1] for s in statements if "Fn::If" in s and s["Fn::If"][0] == "UseExistingBucket"]
    assert allowed["Principal"] == {"Service": "events.amazonaws.com"}
    assert allowed["Condition"] == {"ArnEquals": {"aws:SourceArn": {"Fn::GetAtt": ["ExistingBucketEvents", "Arn"]}}}
