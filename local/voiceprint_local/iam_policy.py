"""IAM as AWS evaluates a function's identity policies, for the calls the handlers make: each call becomes the IAM
actions and resource ARNs AWS would authorise (REQUIRED), then the role's statements decide: an explicit Deny
wins, otherwise an Allow must match both the action and the resource, wildcards as IAM reads them.

Conditions are not evaluated (a statement with a Condition is treated as not matching, so it can only make the
local check stricter than AWS, never looser); neither are resource policies, SCPs or permission boundaries.
"""

from __future__ import annotations

import ast
import json
import re
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse


@dataclass(frozen=True)
class Statement:
    effect: str  # "Allow" | "Deny"
    actions: tuple[str, ...]
    resources: tuple[str, ...]
    conditional: bool

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> Statement:
        def listed(value: Any) -> tuple[str, ...]:
            return tuple(value) if isinstance(value, list) else (value,) if value else ()

        return cls(raw["Effect"], listed(raw.get("Action")), listed(raw.get("Resource")), "Condition" in raw)


def statements(documents: Iterable[Mapping[str, Any] | str]) -> tuple[Statement, ...]:
    """The statements of policy documents, as IAM's API returns them (moto's CloudFormation stores a document as
    the text of a Python dict, with None where the template had AWS::NoValue: both read as AWS would)."""
    found: list[Statement] = []
    for document in documents:
        if isinstance(document, str):
            try:
                document = json.loads(document)
            except ValueError:
                document = ast.literal_eval(document)
        assert isinstance(document, Mapping)
        raw = document.get("Statement", [])
        found.extend(Statement.parse(s) for s in ([raw] if isinstance(raw, dict) else raw) if s is not None)
    return tuple(found)


def document(policy: Iterable[Statement]) -> dict[str, Any]:
    """Statements back as one policy document (to hand a function's role to its own process)."""
    return {
        "Statement": [
            {"Effect": s.effect, "Action": list(s.actions), "Resource": list(s.resources)}
            | ({"Condition": {"local": {}}} if s.conditional else {})
            for s in policy
        ]
    }


def _match(pattern: str, value: str, *, ignore_case: bool) -> bool:
    """IAM's wildcards: * any run of characters, ? one; nothing else is special (unlike fnmatch's [...])."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, re.IGNORECASE | re.DOTALL if ignore_case else re.DOTALL) is not None


def allowed(policy: Iterable[Statement], action: str, resource: str) -> bool:
    matching = [
        s
        for s in policy
        if any(_match(a, action, ignore_case=True) for a in s.actions)
        and any(_match(r, resource, ignore_case=False) for r in s.resources)
    ]
    if any(s.effect == "Deny" for s in matching):
        return False
    return any(s.effect == "Allow" and not s.conditional for s in matching)


@dataclass(frozen=True)
class Where:
    region: str
    account: str
    secret_arn: Callable[[str], str]  # a SecretId (name or ARN) -> the secret's ARN


def _table(where: Where, name: str) -> str:
    return f"arn:aws:dynamodb:{where.region}:{where.account}:table/{name}"


def _queue(where: Where, url: str) -> str:
    return f"arn:aws:sqs:{where.region}:{where.account}:{urlparse(url).path.rsplit('/', 1)[-1]}"


def _object(p: Mapping[str, Any]) -> str:
    return f"arn:aws:s3:::{p['Bucket']}/{p['Key']}"


def _versioned(action: str) -> Callable[[Where, Mapping[str, Any]], list[tuple[str, str]]]:
    """S3 authorises a call on a given version as the ...Version action (GetObjectVersion, DeleteObjectVersion)."""
    return lambda w, p: [(f"s3:{action}Version" if p.get("VersionId") else f"s3:{action}", _object(p))]


def _transact(where: Where, p: Mapping[str, Any]) -> list[tuple[str, str]]:
    actions = {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem", "ConditionCheck": "ConditionCheckItem"}
    return [
        (f"dynamodb:{actions[kind]}", _table(where, body["TableName"]))
        for item in p["TransactItems"]
        for kind, body in item.items()
    ]


def _query(where: Where, p: Mapping[str, Any]) -> list[tuple[str, str]]:
    table = _table(where, p["TableName"])
    return [("dynamodb:Query", f"{table}/index/{p['IndexName']}" if p.get("IndexName") else table)]


# (service, operation) -> the (action, resource ARN) pairs IAM checks for it.
REQUIRED: dict[tuple[str, str], Callable[[Where, Mapping[str, Any]], list[tuple[str, str]]]] = {
    ("s3", "GetObject"): _versioned("GetObject"),
    ("s3", "HeadObject"): _versioned("GetObject"),
    ("s3", "PutObject"): lambda w, p: [("s3:PutObject", _object(p))],
    ("s3", "DeleteObject"): _versioned("DeleteObject"),
    ("s3", "ListObjectVersions"): lambda w, p: [("s3:ListBucketVersions", f"arn:aws:s3:::{p['Bucket']}")],
    ("s3", "ListObjectsV2"): lambda w, p: [("s3:ListBucket", f"arn:aws:s3:::{p['Bucket']}")],
    ("dynamodb", "GetItem"): lambda w, p: [("dynamodb:GetItem", _table(w, p["TableName"]))],
    ("dynamodb", "PutItem"): lambda w, p: [("dynamodb:PutItem", _table(w, p["TableName"]))],
    ("dynamodb", "UpdateItem"): lambda w, p: [("dynamodb:UpdateItem", _table(w, p["TableName"]))],
    ("dynamodb", "DeleteItem"): lambda w, p: [("dynamodb:DeleteItem", _table(w, p["TableName"]))],
    ("dynamodb", "Query"): _query,
    ("dynamodb", "Scan"): lambda w, p: [("dynamodb:Scan", _table(w, p["TableName"]))],
    ("dynamodb", "TransactWriteItems"): _transact,
    ("dynamodb", "BatchGetItem"): lambda w, p: [("dynamodb:BatchGetItem", _table(w, t)) for t in p["RequestItems"]],
    ("dynamodb", "BatchWriteItem"): lambda w, p: [("dynamodb:BatchWriteItem", _table(w, t)) for t in p["RequestItems"]],
    ("sqs", "SendMessage"): lambda w, p: [("sqs:SendMessage", _queue(w, p["QueueUrl"]))],
    ("sqs", "DeleteMessage"): lambda w, p: [("sqs:DeleteMessage", _queue(w, p["QueueUrl"]))],
    ("sqs", "ChangeMessageVisibility"): lambda w, p: [("sqs:ChangeMessageVisibility", _queue(w, p["QueueUrl"]))],
    ("sqs", "GetQueueAttributes"): lambda w, p: [("sqs:GetQueueAttributes", _queue(w, p["QueueUrl"]))],
    ("secretsmanager", "GetSecretValue"): lambda w, p: [("secretsmanager:GetSecretValue", w.secret_arn(p["SecretId"]))],
    ("events", "PutEvents"): lambda w, p: [
        (
            "events:PutEvents",
            name if name.startswith("arn:") else f"arn:aws:events:{w.region}:{w.account}:event-bus/{name}",
        )
        for name in {e.get("EventBusName", "default") for e in p["Entries"]}
    ],
}


def poller_permissions(source_arn: str, on_failure: str | None) -> list[tuple[str, str]]:
    """What Lambda's poller does with the function's role for one event source mapping (AWS checks these when the
    mapping is created): read and delete SQS messages, or read a DynamoDB stream; send to the on-failure queue."""
    if source_arn.startswith("arn:aws:sqs:"):
        needed = [(f"sqs:{a}", source_arn) for a in ("ReceiveMessage", "DeleteMessage", "GetQueueAttributes")]
    else:
        actions = ("DescribeStream", "GetRecords", "GetShardIterator", "ListStreams")
        needed = [(f"dynamodb:{a}", source_arn) for a in actions]
    if on_failure:
        needed.append(("sqs:SendMessage", on_failure))
    return needed


_OBJECT_READS = ("HeadObject", "GetObject")
# The error code each service answers a denied call with.
DENIED_CODES = {"s3": "AccessDenied", "sqs": "AccessDenied"}  # the others: AccessDeniedException


class Enforcer:
    """Checks every AWS call a handler makes (and every URL it presigns: S3 authorises the GET as the signer) against
    its function's role, before the request is built. `current()` names the function running on this thread;
    calls made outside an invocation are not a function's and are not checked."""

    def __init__(
        self,
        roles: Mapping[str, tuple[str, tuple[Statement, ...]]],
        where: Where,
        current: Callable[[], str | None],
    ) -> None:
        """`roles`: function -> (its role's ARN, the statements of its policies)."""
        self._roles = roles
        self._where = where
        self._current = current
        self.denied: list[str] = []
        self.checked: set[tuple[str, str, str]] = set()  # (function, action, resource) allowed and used
        self._asked = threading.local()  # the bucket of this thread's last S3 object read (for its answer)

    def check(self, params: Mapping[str, Any], model: Any, **_: Any) -> None:
        from botocore.exceptions import ClientError

        function = self._current()
        if function is None:
            return
        service = model.service_model.service_name
        role_arn, policy = self._roles[function]
        mapper = REQUIRED.get((service, model.name))
        if service == "s3" and model.name in _OBJECT_READS:
            self._asked.bucket = params.get("Bucket")
        pairs = mapper(self._where, params) if mapper else [(f"{service}:{model.name}", "(no mapping)")]
        for action, resource in pairs:
            if mapper is not None and allowed(policy, action, resource):
                self.checked.add((function, action, resource))
                continue
            message = (
                f"the {function} function (role {role_arn}) is not authorized to perform: {action} on resource: "
                f"{resource}" + ("" if mapper else " - the local IAM check has no mapping for this call: add one")
            )
            self.denied.append(message)
            code = DENIED_CODES.get(service, "AccessDeniedException")
            raise ClientError({"Error": {"Code": code, "Message": message}}, model.name)

    def role(self, function: str) -> tuple[str, tuple[Statement, ...]]:
        """The function's role ARN and the statements of its policies."""
        return self._roles[function]

    def permits(self, function: str, action: str, resource: str) -> bool:
        """Whether the function's role allows it (recorded as exercised when it does)."""
        ok = allowed(self._roles[function][1], action, resource)
        if ok:
            self.checked.add((function, action, resource))
        return ok

    def missing_object(self, parsed: dict[str, Any], model: Any, **_: Any) -> None:
        """S3 tells a caller that an object is not there (404) only when its role may list the bucket
        (s3:ListBucket); any other caller gets 403, as if it were denied. moto answers 404 to everyone."""
        function = self._current()
        if function is None or model.name not in _OBJECT_READS:
            return
        if (parsed.get("Error") or {}).get("Code") not in ("404", "NoSuchKey", "NoSuchVersion", "NotFound"):
            return
        bucket = f"arn:aws:s3:::{getattr(self._asked, 'bucket', '')}"
        if self.permits(function, "s3:ListBucket", bucket):
            return
        parsed["Error"] = {"Code": "403" if model.name == "HeadObject" else "AccessDenied", "Message": "Forbidden"}
        parsed.setdefault("ResponseMetadata", {})["HTTPStatusCode"] = 403

    def install(self, events: Any) -> Callable[[], None]:
        events.register("before-parameter-build", self.check, unique_id="voiceprint-local-iam")
        events.register("after-call.s3", self.missing_object, unique_id="voiceprint-local-iam-404")

        def uninstall() -> None:
            events.unregister("before-parameter-build", unique_id="voiceprint-local-iam")
            events.unregister("after-call.s3", unique_id="voiceprint-local-iam-404")

        return uninstall
