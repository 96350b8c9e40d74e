"""The functions as `sam build` made them, each in a process of its own (`artifact_runtime`): what the local stack
runs with StackOptions(artifacts=...) in place of the handlers from source. A module missing from the layer, or a
requirement missing from layers/common/requirements.txt, fails the function here as it would in Lambda."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from voiceprint_local import deploy, iam_policy, lambda_artifacts, provisioning

RUNTIME = Path(__file__).with_name("artifact_runtime.py")


class FunctionError(RuntimeError):
    """The handler raised: Lambda reports a function error to the caller (the event source retries)."""


class ArtifactFunction:
    def __init__(
        self,
        name: str,
        function_name: str,
        path: list[str],
        env: Mapping[str, str],
        *,
        iam: iam_policy.Enforcer | None,
        role: tuple[str, list[Any]] | None,
        secret_arns: Mapping[str, str],
        region: str,
        account: str,
    ) -> None:
        self.name = name
        self._iam = iam
        self._lock = threading.Lock()
        requests_r, self._requests_w = os.pipe()
        self._answers_r, answers_w = os.pipe()
        spec = {
            "name": name,
            "function_name": function_name,
            "path": path,
            "iam_policy": str(Path(iam_policy.__file__)),
            "role": role,
            "secret_arns": dict(secret_arns),
            "region": region,
            "account": account,
        }
        self._process = subprocess.Popen(  # noqa: S603 - our own runtime, our own interpreter
            [sys.executable, "-S", "-B", str(RUNTIME), json.dumps(spec), str(requests_r), str(answers_w)],
            env=lambda_artifacts.lambda_env(dict(env)),
            pass_fds=(requests_r, answers_w),
            cwd=path[0],
        )
        os.close(requests_r)
        os.close(answers_w)
        self._requests = os.fdopen(self._requests_w, "w")
        self._answers = os.fdopen(self._answers_r, "r")

    def lambda_handler(self, event: dict[str, Any], context: Any) -> Any:
        with self._lock:
            self._requests.write(json.dumps(event) + "\n")
            self._requests.flush()
            line = self._answers.readline()
        if not line:
            raise FunctionError(f"the {self.name} function's process exited ({self._process.poll()})")
        answer = json.loads(line)
        if self._iam is not None:
            self._iam.denied.extend(answer.get("denied", []))
            self._iam.checked.update(tuple(c) for c in answer.get("checked", []))
        if "error" in answer:
            raise FunctionError(f"the {self.name} function failed:\n{answer['error']}")
        return answer["result"]

    def stop(self) -> None:
        self._requests.close()
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait(timeout=10)
        self._answers.close()


def start(
    build_dir: Path,
    functions: Mapping[str, str],
    resources: provisioning.Resources,
    *,
    client: Callable[[str], Any],
    env: Mapping[str, str],
    aws: Mapping[str, str],
    metrics: bool,
    iam: iam_policy.Enforcer | None,
) -> dict[str, ArtifactFunction]:
    """A process per function (name -> logical id), each with its environment as deployed plus `env` (the local
    webhook URL, overrides) and `aws` (the endpoint and credentials of the local stack)."""
    from voiceprint_local import stack_iam

    runtime = lambda_artifacts.runtime_dir(build_dir / "_runtime")
    started: dict[str, ArtifactFunction] = {}
    for name, logical_id in functions.items():
        own = provisioning.function_env_of(
            resources, logical_id, webhook_url=env["WEBHOOK_URL"], metrics=metrics, extra=env
        )
        role = None
        if iam is not None:
            role_arn, policy = iam.role(name)
            role = (role_arn, [iam_policy.document(policy)])
        started[name] = ArtifactFunction(
            name,
            resources.deployment.name(logical_id),
            lambda_artifacts.function_path(build_dir, logical_id, runtime),
            {**own, **aws},
            iam=iam,
            role=role,
            secret_arns=stack_iam.secret_arns(client, own),
            region=deploy.REGION,
            account=deploy.ACCOUNT,
        )
    return started
