"""One function's container, as Lambda's Python runtime runs it: `python -S -B artifact_runtime.py SPEC_JSON REQ_FD
RESP_FD` imports `app` from the function's `sam build` artifact with only the artifact, the built layer and the
runtime's boto3 on sys.path (nothing else of the repository), then invokes its handler once per request.

Requests and answers are JSON lines on their own pipes (the handler's logs keep stdout and stderr). IAM is enforced
here as in the stack's process: `iam_policy` is loaded by file path, under a private name, before the path is
narrowed, so the handler cannot import it (Lambda's runtime is not part of the artifact either). Standard library
only, until the handler's own imports.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
import traceback
from typing import Any


class Context:
    """The parts of Lambda's context object that the handlers and Powertools read."""

    function_version = "$LATEST"
    memory_limit_in_mb = 256
    log_stream_name = "local"

    def __init__(self, function_name: str, request_id: str) -> None:
        self.function_name = function_name
        self.invoked_function_arn = f"arn:aws:lambda:eu-west-1:123456789012:function:{function_name}"
        self.aws_request_id = request_id
        self.log_group_name = f"/aws/lambda/{function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


def _load_iam_policy(path: str) -> Any:
    spec = importlib.util.spec_from_file_location("_lambda_runtime_iam_policy", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


def main() -> None:
    spec = json.loads(sys.argv[1])
    requests = os.fdopen(int(sys.argv[2]), "r")
    answers = os.fdopen(int(sys.argv[3]), "w")
    iam = _load_iam_policy(spec["iam_policy"])
    sys.path[0:1] = spec["path"]  # in place of this script's folder: the artifact, the layer, the runtime
    enforcer = None
    if spec.get("role") is not None:
        import boto3  # the runtime's

        secret_arns: dict[str, str] = spec["secret_arns"]
        where = iam.Where(spec["region"], spec["account"], secret_arn=lambda sid: secret_arns.get(sid, sid))
        role_arn, documents = spec["role"]
        roles = {spec["name"]: (role_arn, iam.statements(documents))}
        enforcer = iam.Enforcer(roles, where, lambda: spec["name"])
        enforcer.install(boto3._get_default_session().events)
    app = importlib.import_module("app")
    for n, line in enumerate(requests):
        denied_before = len(enforcer.denied) if enforcer else 0
        answer: dict[str, Any]
        try:
            result = app.lambda_handler(json.loads(line), Context(spec["function_name"], f"local-{n}"))
            answer = {"result": result}
        except Exception:  # noqa: BLE001 - a function error, reported to the caller as Lambda reports one
            answer = {"error": traceback.format_exc(limit=20)}
        if enforcer is not None:
            answer["denied"] = enforcer.denied[denied_before:]
            answer["checked"] = sorted(enforcer.checked)
        answers.write(json.dumps(answer) + "\n")
        answers.flush()


if __name__ == "__main__":
    main()
