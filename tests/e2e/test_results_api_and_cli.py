"""The results API (IAM-authorised routes on the local HTTP API, the real read function behind them) and the
voiceprint CLI against it, as a user runs them."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator

import pytest
import requests
from botocore.credentials import Credentials

from voiceprint_cli.__main__ import main, wait
from voiceprint_cli.api import ResultsApi
from voiceprint_cli.progress import Progress
from voiceprint_local.audio_samples import wav_bytes
from voiceprint_local.stack import ACCESS_KEY, REGION, SECRET_KEY, LocalStack, StackOptions, running, wait_for

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    with running(StackOptions(reconcile_every_seconds=0.5, log_level="WARNING", metrics=False)) as s:
        yield s


def cli(stack: LocalStack, *args: str) -> tuple[int, str, str]:
    assert stack.api is not None
    out, err = io.StringIO(), io.StringIO()
    code = main(["--local", "--api", stack.api.url, *args], out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def test_unsigned_or_wrongly_signed_requests_are_refused(stack: LocalStack) -> None:
    assert stack.api is not None
    assert requests.get(f"{stack.api.url}/voiceprints", timeout=5).status_code == 403
    forged = ResultsApi.connect(
        stack.api.url, credentials=Credentials(ACCESS_KEY, "not-the-secret"), region=REGION, local=True
    )
    with pytest.raises(Exception, match="403"):
        forged.voiceprints("")
    stranger = ResultsApi.connect(
        stack.api.url, credentials=Credentials("AKIDOTHER", SECRET_KEY), region=REGION, local=True
    )
    with pytest.raises(Exception, match="403"):
        stranger.voiceprints("")


def test_wait_status_and_list_as_a_user_runs_them(stack: LocalStack) -> None:
    stack.upload("voiceprints/cli/alice.wav", wav_bytes(2.0, "alice"))
    stack.upload("voiceprints/cli/bob.wav", wav_bytes(2.0, "bob"))
    stack.upload("voiceprints/cli/bad.wav", b"definitely not audio" * 40)

    code, out, err = cli(stack, "wait", "voiceprints/cli/alice.wav", "--timeout", "30", "--interval", "0.2")
    assert code == 0, err
    assert out.startswith("voiceprints/cli/alice.wav  voiceprint succeeded")
    assert "label 'alice'" in out
    assert "succeeded" in err  # the progress lines (not a terminal: one per change)

    code, out, _ = cli(stack, "wait", "voiceprints/cli/bad.wav", "--timeout", "30", "--interval", "0.2")
    assert (code, "not_audio:" in out) == (1, True)

    assert wait_for(lambda: "voiceprints/cli/bob.wav" in stack.terminal_records(), 30)
    code, out, _ = cli(stack, "--json", "status", "voiceprints/cli/bob.wav")
    [record] = json.loads(out)
    assert code == 0
    assert (record["status"], record["label"], record["group"]) == ("succeeded", "bob", "cli/")
    assert "voiceprint" not in record  # biometric data only when asked for
    code, out, _ = cli(stack, "--json", "--voiceprint", "status", "voiceprints/cli/bob.wav")
    [record] = json.loads(out)
    assert record["voiceprint"] == stack.terminal_records()["voiceprints/cli/bob.wav"]["voiceprint"]
    assert not {"claimToken", "leaseUntil", "early", "pk", "sk"} & set(record)  # bookkeeping stays inside

    code, out, _ = cli(stack, "--json", "status", record["jobId"])
    assert (code, json.loads(out)[0]["key"]) == (0, "voiceprints/cli/bob.wav")

    code, out, _ = cli(stack, "--json", "list", "--group", "cli/")
    listed = json.loads(out)
    assert [v["label"] for v in listed] == ["alice", "bob"]
    assert all("voiceprint" not in v for v in listed)  # lists leave the biometric payload out
    code, out, _ = cli(stack, "--json", "list", "--group", "cli/", "--label", "bob")
    assert [v["key"] for v in json.loads(out)] == ["voiceprints/cli/bob.wav"]
    # A label across every group.
    stack.upload("voiceprints/cli-other/bob.wav", wav_bytes(2.5, "bob", seed=9))
    assert wait_for(lambda: "voiceprints/cli-other/bob.wav" in stack.terminal_records(), 30)
    code, out, _ = cli(stack, "--json", "list", "--label", "bob")
    assert sorted(v["key"] for v in json.loads(out)) == ["voiceprints/cli-other/bob.wav", "voiceprints/cli/bob.wav"]

    code, _, err = cli(stack, "status", "voiceprints/cli/never-uploaded.wav")
    assert (code, "no record" in err) == (2, True)


def test_identification_results_are_readable_through_the_api(stack: LocalStack) -> None:
    stack.upload("voiceprints/cli-id/carol.wav", wav_bytes(2.0, "carol"))
    assert wait_for(lambda: "voiceprints/cli-id/carol.wav" in stack.terminal_records(), 30)
    stack.upload("identify/cli-id/call.wav", wav_bytes(3.0, "carol", seed=5))
    code, out, err = cli(stack, "--json", "wait", "identify/cli-id/call.wav", "--timeout", "30", "--interval", "0.2")
    assert code == 0, err
    [record] = json.loads(out)
    assert record["kind"] == "identify"
    assert [m["match"] for m in record["matches"]] == ["carol"]
    assert record["result"]["identification"][0]["match"] == "carol"


def test_wait_gives_up_at_its_timeout_on_an_injected_clock(stack: LocalStack) -> None:
    assert stack.api is not None
    api = ResultsApi.connect(stack.api.url, credentials=Credentials(ACCESS_KEY, SECRET_KEY), region=REGION, local=True)
    now = [0.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    stream = io.StringIO()
    found = wait(
        api,
        "voiceprints/cli/nothing.wav",
        timeout=10,
        interval=3,
        progress=Progress(stream, "x"),
        clock=lambda: now[0],
        sleep=sleep,
    )
    assert found is None
    assert slept == [3, 3, 3, 3]
    assert stream.getvalue().count("not yet recorded") == 1  # one progress line per change, not per poll
