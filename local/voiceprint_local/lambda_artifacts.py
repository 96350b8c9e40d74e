"""What `sam build` makes, run as Lambda runs it: each function's built CodeUri (/var/task) and the built layer
(/opt/python) on the path, the runtime's boto3 after them, nothing else of the repository, and no writable bytecode
cache (`python -S -B`, PYTHONDONTWRITEBYTECODE=1). The bench measures cold starts this way; the tests check that
the artifacts import and that no module is compiled from source on import.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
from pathlib import Path

from voiceprint_local import template

ROOT = template.ROOT
SAM = ROOT / ".venv-tools" / "bin" / "sam"
# What the Lambda Python runtime provides besides the standard library (boto3 and what it imports), precompiled.
RUNTIME_PACKAGES = ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "six.py", "urllib3")
PROBE = Path(__file__).with_name("import_probe.py")
# What Lambda's Python 3.12 runtime sets in every container: our handlers pause the collector during init only there
# (voiceprint/container_init.py), so a process standing for a container sets it too.
EXECUTION_ENV = {"AWS_EXECUTION_ENV": "AWS_Lambda_python3.12"}


def sam_build(build_dir: Path, *, sam: Path = SAM) -> Path:
    """`sam build` of template.yaml into `build_dir` (no Docker: the layer is pure Python)."""
    env = dict(os.environ, SAM_CLI_TELEMETRY="0", AWS_DEFAULT_REGION=os.environ.get("AWS_DEFAULT_REGION", "us-east-1"))
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"  # the Makefiles run python3.12
    command = [str(sam), "build", "--template", str(ROOT / "template.yaml"), "--build-dir", str(build_dir)]
    subprocess.run(command, cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL, timeout=900)  # noqa: S603
    return build_dir


def runtime_dir(dest: Path) -> Path:
    """A directory standing for the runtime's own packages: links to this interpreter's boto3 and friends,
    compiled once (Lambda's runtime ships them compiled)."""
    import compileall

    site = Path(sysconfig.get_paths()["purelib"])
    dest.mkdir(parents=True, exist_ok=True)
    for name in RUNTIME_PACKAGES:
        link, source = dest / name, site / name
        if not link.exists():
            link.symlink_to(source)
        compileall.compile_file(source, quiet=2) if source.is_file() else compileall.compile_dir(source, quiet=2)
    return dest


def function_path(build_dir: Path, logical_id: str, runtime: Path) -> list[str]:
    """sys.path as Lambda sets it for one function: /var/task, /opt/python, then the runtime."""
    return [str(build_dir / logical_id), str(build_dir / "CommonLayer" / "python"), str(runtime)]


def lambda_env(extra: dict[str, str]) -> dict[str, str]:
    """A clean environment as in a Lambda container: no PYTHONPATH, no bytecode writing, the runtime's
    AWS_EXECUTION_ENV, plus the function's own variables."""
    base = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "TZ")}
    return {**base, "PYTHONDONTWRITEBYTECODE": "1", "PYTHONNOUSERSITE": "1", **EXECUTION_ENV, **extra}


def probe_import(module: str, path: list[str], env: dict[str, str]) -> dict[str, object]:
    """Import `module` in a fresh `python -S -B` with only `path`: how long it took and which modules were
    compiled from source (none, when the artifacts ship their bytecode)."""
    out = subprocess.run(  # noqa: S603 - our own probe, our own interpreter
        [sys.executable, "-S", "-B", str(PROBE), module, json.dumps(path)],
        env=lambda_env(env),
        cwd=path[0],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if out.returncode != 0:
        raise RuntimeError(f"import {module} from the built artifacts failed:\n{out.stderr[-3000:]}")
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))
