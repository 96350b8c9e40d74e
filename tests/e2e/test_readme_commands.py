"""Every command the README shows, run exactly as written where it can run on this machine; the others (a
deployed stack, an AWS account, half an hour) are listed with the reason, and the list is checked to be complete,
so the README cannot drift from what works."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from voiceprint_local.audio_samples import wav_bytes

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
AWSCLI_BIN = ROOT / ".venv-awscli" / "bin"

# Commands that do not run here, by prefix, and why.
NOT_RUN = {
    "scripts/test.sh": "the test command itself: this test runs inside it",
    "scripts/scale-model.sh": "3 minutes; its output is its section of docs/RELIABILITY.md, regenerated with the "
    "model (tests/tooling/test_scale_model.py runs it small)",
    "scripts/bench.sh": "20-30 minutes; its output is docs/BENCHMARKS.md, regenerated with each change it measures",
    "scripts/reliability.sh": "over an hour; its output is docs/RELIABILITY.md (the small run below does run)",
    "scripts/make_resemblyzer_reference.py": "needs torch and librosa (resemblyzer's own stack) to make the fixture",
    "scripts/lock.sh": "rewrites the committed locks from PyPI (8 min); tests/template/test_template.py checks them",
    "scripts/voiceprint --stack": "needs a deployed stack and AWS credentials",
    "scripts/voiceprint --api": "needs a deployed stack's API and AWS credentials",
    "aws secretsmanager": "creates secrets in an AWS account",
    "aws sqs start-message-move-task": "needs a deployed stack",
    "aws s3api put-bucket-notification-configuration": "changes a bucket in an AWS account (tests/e2e/"
    "test_existing_bucket.py makes the same bucket on the local stack)",
    "sam build": "needs the SAM CLI on PATH; tests/artifacts runs the same build with .venv-tools/bin/sam",
    "sam deploy": "deploys to an AWS account",
}
# Commands run below, by prefix (the test that runs each is named).
RUN = {
    "scripts/run-local.sh --embeddings": "test_the_demo_with_real_embeddings",
    "scripts/run-local.sh serve --embeddings --parameter": "test_serve_with_stack_parameters",
    "scripts/run-local.sh serve": "test_serve_and_the_commands_shown_with_it",
    "scripts/run-local.sh": "test_the_run_command",
    "scripts/reliability.sh --burst-uploads 1000 --chaos-uploads 200 --pacing-uploads 0 --seed 11": (
        "test_the_small_reliability_run"
    ),
    "export AWS_ACCESS_KEY_ID=local": "test_serve_and_the_commands_shown_with_it",
    "aws --endpoint-url http://127.0.0.1:4566": "test_serve_and_the_commands_shown_with_it",
    "scripts/voiceprint --local": "test_serve_and_the_commands_shown_with_it",
}


def readme_commands() -> list[str]:
    """Lines of the README's `sh` blocks (continuations joined, comments dropped) and inline `scripts/...` spans."""
    text = README.read_text()
    commands: list[str] = []
    for block in re.findall(r"```sh\n(.*?)```", text, re.DOTALL):
        for line in block.replace("\\\n", " ").splitlines():
            line = re.sub(r"\s+#\s.*$", "", line).strip()
            if line and not line.startswith("#"):
                commands.append(line)
    commands += [span for span in re.findall(r"`(scripts/[\w-]+(?:\.\w+)?(?: [^`]*)?)`", text)]
    return list(dict.fromkeys(commands))


def _kind(command: str) -> str | None:
    for prefix, test in RUN.items():
        if command.startswith(prefix):
            return f"run by {test}"
    for prefix, reason in NOT_RUN.items():
        if command.startswith(prefix):
            return f"not run here: {reason}"
    return None


def test_every_command_in_the_readme_is_run_here_or_says_why_not() -> None:
    commands = readme_commands()
    assert len(commands) > 10
    unaccounted = [c for c in commands if _kind(c) is None]
    assert unaccounted == []
    for c in commands:  # shown in the test log: what runs and what does not, and why
        print(f"{c}\n    -> {_kind(c)}")


def _shell(command: str, *, cwd: Path = ROOT, timeout: float = 900, env: dict[str, str] | None = None) -> str:
    out = subprocess.run(  # noqa: S603 - the README's own command, as a user types it
        ["bash", "-c", command],  # noqa: S607
        cwd=cwd,
        env=env or dict(os.environ),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert out.returncode == 0, f"{command} exited {out.returncode}:\n{out.stdout[-2000:]}\n{out.stderr[-3000:]}"
    return out.stdout


@pytest.mark.timeout(600)  # a whole script run, venv included
def test_the_run_command() -> None:
    out = _shell("scripts/run-local.sh")
    assert "records in DynamoDB table voiceprint-local-JobsTable-LOCAL" in out
    assert "voiceprints/alice.wav" in out
    assert "events published on EventBridge" in out


@pytest.mark.timeout(600)  # a whole script run, venv included
def test_the_demo_with_real_embeddings() -> None:
    out = _shell("scripts/run-local.sh --embeddings")
    assert out.count("succeeded  voiceprint resemblyzer-v1:") == 3
    assert "Identification Ready" in out


@pytest.mark.timeout(1800)  # a whole script run, venv included
def test_the_small_reliability_run() -> None:
    committed = (ROOT / "docs" / "RELIABILITY.md").read_bytes()
    _shell("scripts/reliability.sh --burst-uploads 1000 --chaos-uploads 200 --pacing-uploads 0 --seed 11", timeout=1500)
    assert (ROOT / "docs" / "RELIABILITY.md").read_bytes() == committed  # a small run never overwrites the figures
    report = (ROOT / "local-data" / "RELIABILITY-small.md").read_text()
    assert "FAIL" not in report
    assert report.count("PASS") == 2  # the burst and the chaos run


@contextlib.contextmanager
def _serve(command: str) -> Iterator[subprocess.Popen[str]]:
    """The README's `scripts/run-local.sh serve ...` as a user starts it, stopped with Ctrl-C (SIGINT) afterwards."""
    process = subprocess.Popen(  # noqa: S603 - the README's own command
        ["bash", "-c", command],  # noqa: S607
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    lines: list[str] = []
    ready = threading.Event()

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line)
            if "Ctrl-C stops everything" in line:
                ready.set()

    threading.Thread(target=read, daemon=True).start()
    try:
        assert ready.wait(300), "".join(lines[-50:])
        yield process
    finally:
        os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def _served_client(service: str) -> Any:
    """A client of the served stack, with the credentials `serve` prints."""
    session = boto3.session.Session(
        aws_access_key_id="local", aws_secret_access_key="local-secret-key", region_name="eu-west-1"
    )
    return session.client(service, endpoint_url="http://127.0.0.1:4566")  # type: ignore[call-overload]


@pytest.fixture
def serving() -> Iterator[subprocess.Popen[str]]:
    with _serve("scripts/run-local.sh serve") as process:
        yield process


@pytest.mark.timeout(600)  # a whole script run, venv included
def test_serve_with_stack_parameters() -> None:
    command = next(c for c in readme_commands() if c.startswith("scripts/run-local.sh serve --embeddings --parameter"))
    with _serve(command):
        cloudformation = _served_client("cloudformation")
        [stack] = cloudformation.describe_stacks()["Stacks"]
        given = {p["ParameterKey"]: p["ParameterValue"] for p in stack["Parameters"]}
        assert (given["ReviewBand"], given["IdentifyThreshold"]) == ("70-92", "70")


def _block_after(heading: str) -> list[str]:
    """The lines of the first `sh` block after `heading` in the README, as written."""
    text = README.read_text()
    block = re.search(r"```sh\n(.*?)```", text[text.index(heading) :], re.DOTALL)
    assert block is not None
    return [line for line in block.group(1).splitlines() if line.strip()]


@pytest.mark.timeout(900)  # a whole script run, venv included
def test_serve_and_the_commands_shown_with_it(serving: subprocess.Popen[str], tmp_path: Path) -> None:
    # The S3-client block: `export ...` then the AWS CLI, in a folder holding my-voice.wav, as the README assumes.
    (tmp_path / "my-voice.wav").write_bytes(wav_bytes(2.0, "carol"))
    env = {**os.environ, "PATH": f"{AWSCLI_BIN}{os.pathsep}{os.environ['PATH']}"}
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_SESSION_TOKEN"):
        env.pop(name, None)
    block = _block_after("`scripts/run-local.sh serve` keeps the stack up")
    out = _shell("\n".join(["set -e", *block]), cwd=tmp_path, env=env, timeout=120)
    assert '"Items"' in out  # the scan's answer

    # The CLI block's local lines, after alice's voiceprint exists (the status line asks for it).
    s3 = _served_client("s3")
    s3.put_object(
        Bucket="voiceprint-local-inputbucket-local", Key="voiceprints/alice.wav", Body=wav_bytes(3.0, "alice")
    )
    wait = _shell("scripts/voiceprint --local wait voiceprints/alice.wav --timeout 60 --interval 0.5", timeout=120)
    assert "succeeded" in wait
    blocks = (
        "### Results API and the `voiceprint` CLI",
        "### Where the data lives",
        "### Erasure by person",
        "### The opt-out list",
        "### Backfill and sweep",
    )
    for line in [line for heading in blocks for line in _block_after(heading)]:
        command = re.sub(r"\s+#\s.*$", "", line).strip()
        if not command.startswith("scripts/voiceprint --local"):
            continue
        printed = _shell(command, timeout=120)
        if "--json" in command and "status" in command:
            [record] = json.loads(printed)
            assert record["voiceprint"].startswith("emulator-v1:")
