"""Deployment sizes from a real `sam build` (the tools venv's SAM CLI, no Docker): each function's and the
layer's unzipped size and zipped size, what the shipped bytecode adds, and a check that boto3 (the runtime's) is
not shipped."""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Artifact:
    name: str
    files: int
    unzipped_bytes: int
    zipped_bytes: int
    ships_boto3: bool
    bytecode_bytes: int = 0  # the shipped .pyc files (unzipped): what compiled bytecode adds


def _measure(name: str, path: Path) -> Artifact:
    files = [p for p in path.rglob("*") if p.is_file()]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for p in files:
            archive.write(p, p.relative_to(path))
    ships_boto3 = any(part in ("boto3", "botocore") for p in files for part in p.relative_to(path).parts[:3])
    pyc = sum(p.stat().st_size for p in files if p.suffix == ".pyc")
    return Artifact(name, len(files), sum(p.stat().st_size for p in files), buffer.tell(), ships_boto3, pyc)


def measure(build_dir: Path) -> list[Artifact]:
    """Every artifact of a `sam build` output folder (voiceprint_local.lambda_artifacts.sam_build)."""
    return [_measure(p.name, p) for p in sorted(build_dir.iterdir()) if p.is_dir()]
