"""The README's run command as a user runs it: `demo` prints the records, `serve` keeps running for uploads and
stops cleanly on Ctrl-C; and a stopped stack leaves nothing behind. One stack at a time: moto's backends are
process-wide."""

from __future__ import annotations

import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import boto3
import pytest

from voiceprint_local.__main__ import main
from voiceprint_local.audio_samples import wav_bytes
from voiceprint_local.stack import ACCESS_KEY, REGION, SECRET_KEY, LocalStack, StackOptions, free_port, wait_for

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]


def test_demo_prints_a_record_per_sample(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--timeout", "60"]) == 0
    out = capsys.readouterr().out
    assert "6 records in DynamoDB table voiceprint-local-JobsTable-LOCAL" in out
    assert out.count("  succeeded  voiceprint ") == 3
    assert "voiceprints/carol+ünïcode.wav  succeeded" in out
    assert "too_long: 35.0 s of audio is over the API's limit of 30 s" in out
    assert "not_audio:" in out
    assert "empty_object: the object is empty" in out
    assert "identify/meeting.wav  succeeded  SPEAKER_00 = bob (take 2)" in out
    assert "compared with alice, bob (take 2), carol+ünïcode" in out
    assert "voiceprints/carol+ünïcode.wav has no record any more" in out
    for line in ("1 x Identification Ready", "1 x Voiceprint Deleted", "3 x Voiceprint Failed", "3 x Voiceprint Ready"):
        assert line in out
    assert "errors:" not in out
    assert out.rstrip().endswith("local stack stopped.")


def test_demo_with_real_embeddings(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--embeddings", "--timeout", "60"]) == 0
    out = capsys.readouterr().out
    assert out.count("succeeded  voiceprint resemblyzer-v1:") == 3
    assert "(1383 chars)" in out  # 256 float32 values, base64
    # The samples are spoken (speech.py): bob, saying something else, is recognised with a real embedding's score.
    assert "tones" not in out
    assert re.search(r"SPEAKER_00 = bob \(take 2\) \((8[5-9]|9\d)\.\d\)", out), out


def test_serve_runs_until_interrupted() -> None:
    ports = [free_port() for _ in range(3)]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(str(ROOT / p) for p in ("layers/common", "local", "cli", "."))}
    proc = subprocess.Popen(  # noqa: S603 - our own module, fixed arguments
        [
            sys.executable,
            "-m",
            "voiceprint_local",
            "serve",
            "--aws-port",
            str(ports[0]),
            "--api-port",
            str(ports[1]),
            "--emulator-port",
            str(ports[2]),
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        for line in proc.stdout or []:
            lines.put(line)

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    seen: list[str] = []

    def wait_line(text: str, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = lines.get(timeout=0.2)
            except queue.Empty:
                continue
            seen.append(line)
            if text in line:
                return True
        return False

    try:
        assert wait_line("Ctrl-C stops everything", 60), seen
        s3 = boto3.client(
            "s3",
            endpoint_url=f"http://127.0.0.1:{ports[0]}",
            region_name=REGION,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
        )
        s3.put_object(
            Bucket="voiceprint-local-inputbucket-local", Key="voiceprints/mine.wav", Body=wav_bytes(1.0, "carol")
        )
        assert wait_line("voiceprints/mine.wav: succeeded", 30), seen
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 0
        assert wait_line("stopped.", 5), seen
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
    with socket.socket() as s:
        assert s.connect_ex(("127.0.0.1", ports[0])) != 0


def _refuses(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex(("127.0.0.1", port)) != 0


def _serves(thread: threading.Thread, ports: list[int]) -> bool:
    """A request thread of one of these ports (another stack may be running beside this one)."""
    args = getattr(thread, "_args", ())
    sock = args[0] if args and isinstance(args[0], socket.socket) else None
    try:
        return sock is not None and sock.getsockname()[1] in ports
    except OSError:
        return False


def test_the_stack_stops_everything_it_started() -> None:
    threads_before = set(threading.enumerate())
    stack = LocalStack(StackOptions(log_level="WARNING", metrics=False)).start()
    try:
        assert stack.emulator is not None
        assert stack.api is not None
        ports = [int(u.rsplit(":", 1)[1].split("/")[0]) for u in (stack.aws_url, stack.emulator.url, stack.api.url)]
        assert not any(_refuses(p) for p in ports)
        started = [t for t in threading.enumerate() if t not in threads_before]
        assert {"sqs-dispatcher-0", "reconciler-schedule", "emulator-worker"} <= {t.name for t in started}
    finally:
        stack.stop()
    assert all(_refuses(p) for p in ports)

    def leftovers() -> list[str]:
        return [t.name for t in started + threading.enumerate() if t.is_alive() and (t in started or _serves(t, ports))]

    # Request threads finish once their keep-alive connections close; give them a bounded moment.
    assert wait_for(lambda: not leftovers(), 10), leftovers()
