"""The functions as `sam build` made them, each in a process of its own (`artifact_runtime`): what the local stack
runs with StackOptions(artifacts=...) in place of the handlers from source. A module missing from the layer, or a
requirement missing from layers/common/requirements.txt, fails the function here as it would in Lambda."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from voiceprint_local import iam_policy, lambda_artifacts

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
