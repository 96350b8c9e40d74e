"""Issue 17: where moto departs from AWS, the local stack behaves as AWS does. Each test drives the stack from
outside (boto3 against its moto server), as a user's tools would."""

from __future__ import annotations

import io
import threading

import pytest

from voiceprint_local import deploy, template
from voiceprint_local.audio_samples import wav_bytes
from voiceprint_local.cfn_intrinsics import Resolver
from voiceprint_local.stack import FUNCTIONS, StackOptions, running, wait_for

pytestmark = pytest.mark.e2e


def test_a_reader_never_sees_a_half_applied_update_item() -> None:
    """DynamoDB applies an UpdateItem atomically; moto stored the keys first, then the update."""
    with running(StackOptions(run_functions=False)) as stack:
        ddb_writer, ddb_reader = stack.client("dynamodb"), stack.client("dynamodb")
        done = threading.Event()
        half_applied: list[dict[str, object]] = []

        def write() -> None:
            try:
                for i in range(400):  # bounded
                    ddb_writer.update_item(
                        TableName=stack.table,
                        Key={"pk": {"S": f"OBJ#{i:040d}"}, "sk": {"S": "VER#1"}},
                        UpdateExpression="SET #s = :s, objectKey = :k",
                        ExpressionAttributeNames={"#s": "status"},
                        ExpressionAttributeValues={":s": {"S": "submitting"}, ":k": {"S": f"key-{i}"}},
                    )
            finally:
                done.set()

        writer = threading.Thread(target=write)
        writer.start()
        scans = 0
        while not done.is_set() and scans < 5000:  # bounded
            scans += 1
            for item in ddb_reader.scan(TableName=stack.table)["Items"]:
                if "objectKey" not in item:
                    half_applied.append(item)
        writer.join(timeout=60)
        assert scans > 0
        assert half_applied == []


def test_identical_bytes_uploaded_twice_are_two_versions_with_two_voiceprints() -> None:
    """In AWS a re-upload to a versioned bucket is a new version with its own notification (versionId,
    sequencer): it gets its own voiceprint. moto's notifications carried neither, so locally it was deduplicated."""
    data = wav_bytes(2.0, "alice")
    with running() as stack:
        stack.upload("voiceprints/alice.wav", data)
        assert wait_for(lambda: len(stack.terminal_records()) == 1, timeout=60)
        stack.upload("voiceprints/alice.wav", data)

        def two_done() -> bool:
            records = stack.records()
            return len(records) == 2 and all(r.get("status") == "succeeded" for r in records)

        assert wait_for(two_done, timeout=60)
        versions = stack.client("s3").list_object_versions(Bucket=stack.bucket, Prefix="voiceprints/alice.wav")[
            "Versions"
        ]
        assert sorted(r["versionId"] for r in stack.records()) == sorted(v["VersionId"] for v in versions)
        assert len({r["jobId"] for r in stack.records()}) == 2


def test_the_serve_console_survives_a_record_it_cannot_describe() -> None:
    from voiceprint_local.__main__ import watch  # the serve loop's body (bfeccaa had it inline: it died instead)

    out = io.StringIO()
    seen: dict[str, str] = {}
    keys_only = {"pk": "OBJ#1", "sk": "VER#1"}  # what moto's non-atomic UpdateItem showed readers
    odd = {"objectKey": "odd.wav", "sk": "VER#2", "status": "succeeded", "kind": "identify", "matches": "not json"}
    fine = {"objectKey": "voiceprints/bob.wav", "sk": "VER#3", "status": "failed", "failureCode": "x", "reason": "y"}
    watch([keys_only, odd, fine], seen, out)
    assert "voiceprints/bob.wav: failed - x: y" in out.getvalue()


def test_the_serve_console_escapes_control_characters_in_keys() -> None:
    from voiceprint_local.__main__ import watch

    out = io.StringIO()
    record = {"objectKey": "voiceprints/\x1b[2Jevil\r.wav", "sk": "VER#1", "status": "failed", "reason": "\x9b31m"}
    watch([record], {}, out)
    assert "\x1b" not in out.getvalue()
    assert "\r" not in out.getvalue()
    assert "\x9b" not in out.getvalue()
    assert "\\x1b[2Jevil\\x0d.wav" in out.getvalue()


def test_the_stack_is_made_by_cloudformation_from_the_translated_template() -> None:
    """Issue 12: resources come from template.yaml as `sam deploy` makes them (SAM's translator, then CreateStack);
    names and the functions' environment from the stack; what moto's CloudFormation ignores applied from the
    template; parameters reach the functions and the bucket's notifications alike."""
    env = {"KEY_SUFFIX": ".wav", "IDENTIFY_THRESHOLD": "42"}
    with running(StackOptions(run_functions=False, env=env)) as stack:
        cfn = stack.client("cloudformation")
        described = cfn.describe_stacks(StackName=deploy.STACK_NAME)["Stacks"][0]
        assert described["StackStatus"] == "CREATE_COMPLETE"
        outputs = {o["OutputKey"]: o["OutputValue"] for o in described["Outputs"]}
        assert (outputs["InputBucketName"], outputs["JobsTableName"], outputs["EventBusName"]) == (
            stack.bucket,
            stack.table,
            stack.event_bus,
        )
        made = {
            r["LogicalResourceId"]: r
            for r in cfn.list_stack_resources(StackName=deploy.STACK_NAME)["StackResourceSummaries"]
        }
        translated = deploy.translated()
        assert stack.resources is not None
        parameters = stack.resources.deployment.parameters
        conditions = Resolver(translated, parameters, {}, pseudo={}, attribute=lambda *_: "")
        expected = {
            k
            for k, r in translated["Resources"].items()
            if r["Type"] not in deploy.NOT_CREATED and ("Condition" not in r or conditions.condition(r["Condition"]))
        }
        assert "ExistingBucketEvents" not in expected  # made only with ExistingBucketName (test_existing_bucket.py)
        assert expected <= made.keys()

        s3, ddb = stack.client("s3"), stack.client("dynamodb")
        assert s3.get_bucket_versioning(Bucket=stack.bucket)["Status"] == "Enabled"
        configs = s3.get_bucket_notification_configuration(Bucket=stack.bucket)["QueueConfigurations"]
        filters = {
            (c["Events"][0], tuple((r["Name"].lower(), r["Value"]) for r in c["Filter"]["Key"]["FilterRules"]))
            for c in configs
        }
        assert ("s3:ObjectCreated:*", (("prefix", "voiceprints/"), ("suffix", ".wav"))) in filters
        assert ("s3:ObjectRemoved:*", (("prefix", "identify/"), ("suffix", ".wav"))) in filters
        assert ("s3:LifecycleExpiration:*", (("prefix", "voiceprints/"), ("suffix", ".wav"))) in filters
        ttl = ddb.describe_time_to_live(TableName=stack.table)["TimeToLiveDescription"]
        assert ttl == {"TimeToLiveStatus": "ENABLED", "AttributeName": template.ttl_attribute()}

        function_env = stack.function_env()
        assert (function_env["IDENTIFY_THRESHOLD"], function_env["KEY_SUFFIX"]) == ("42", ".wav")
        assert function_env["TABLE_NAME"] == stack.table
        assert function_env["EVENT_BUS_NAME"] == stack.event_bus
        ref_key_secret = stack.client("secretsmanager").get_secret_value(SecretId=function_env["REF_KEY_SECRET_ID"])
        assert ref_key_secret["SecretString"] == stack.ref_key

        lam, iam = stack.client("lambda"), stack.client("iam")
        for logical_id in FUNCTIONS.values():
            role_arn = lam.get_function_configuration(FunctionName=made[logical_id]["PhysicalResourceId"])["Role"]
            role = role_arn.rsplit("/", 1)[1]
            assert role == made[f"{logical_id}Role"]["PhysicalResourceId"]
            assert iam.list_role_policies(RoleName=role)["PolicyNames"], f"{logical_id}'s role has no policy"

        # moto's own delivery to the submit function's mapping is off: the message waits for the stack's poller.
        s3.put_object(Bucket=stack.bucket, Key="voiceprints/waits.wav", Body=wav_bytes(1.0, "alice"))
        sqs = stack.client("sqs")
        bodies: list[str] = []

        def arrived() -> bool:
            messages = sqs.receive_message(QueueUrl=stack.queue_url, MaxNumberOfMessages=10).get("Messages", [])
            bodies.extend(m["Body"] for m in messages)
            return any("waits.wav" in b for b in bodies)  # S3 URL-encodes the key in the event

        assert wait_for(arrived, timeout=10)
