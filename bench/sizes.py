"""Deployment sizes from a real `sam build` (the tools venv's SAM CLI, no Docker): each function's and the
layer's unzipped size and zipped size, and a check that boto3 (the runtime's) is not shipped."""

from __future__ import annotations

import io
import os
import subprocess
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from voiceprint_local import template

ROOT = template.ROOT


@dataclass(frozen=True)
class Artifact:
    name: str
    files: int
    unzipped_bytes: int
    zipped_bytes: int
    ships_boto3: bool


def _measure(name: str, path: Path) -> Artifact:
    files = [p for p in path.rglob("*") if p.is_file()]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for p in files:
            archive.write(p, p.relative_to(path))
    ships_boto3 = any(part in ("boto3", "botocore") for p in files for part in p.relative_to(path).parts[:3])
    return Artifact(name, len(files), sum(p.stat().st_size for p in files), buffer.tell(), ships_boto3)


def build(sam: Path, python_bin_dir: Path) -> list[Artifact]:
    with tempfile.TemporaryDirectory(prefix="bench-sam-") as tmp:
        env = dict(
            os.environ, SAM_CLI_TELEMETRY="0", AWS_DEFAULT_REGION=os.environ.get("AWS_DEFAULT_REGION", "us-east-1")
        )
        env["PATH"] = f"{python_bin_dir}{os.pathsep}{env.get('PATH', '')}"  # sam build looks for python3.12
        subprocess.run(
            [
                str(sam),
                "build",
                "--template",
                str(ROOT / "template.yaml"),
                "--build-dir",
                tmp,
            ],
            cwd=ROOT,
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
            timeout=900,
        )
        return [_measure(p.name, p) for p in sorted(Path(tmp).iterdir()) if p.is_dir()]
