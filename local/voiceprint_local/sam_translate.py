"""template.yaml as CloudFormation: translated by AWS SAM's own translator (samtranslator, the library SAM CLI
uses), offline. Runs in the tools venv (its pins clash with the test venv's boto3):

    .venv-tools/bin/python local/voiceprint_local/sam_translate.py [template.yaml]  -> JSON on stdout

CodeUri/ContentUri become S3 URIs, as `sam package` writes them; managed policies resolve to their AWS ARNs by
name, without an IAM call (the translator only needs the name -> ARN map).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

# Run as a script in the tools venv: the package's folder goes on the path for the shared template reader.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from voiceprint_local.template import read


class _PolicyMap:
    """Every AWS managed policy by name, as IAM would answer (arn:aws:iam::aws:policy/<name>)."""

    def load(self) -> dict[str, str]:
        return _AnyName()


class _AnyName(dict):  # type: ignore[type-arg]
    def __contains__(self, name: object) -> bool:
        return isinstance(name, str)

    def __getitem__(self, name: str) -> str:
        return f"arn:aws:iam::aws:policy/{name}"

    def get(self, name: str, default: Any = None) -> str:
        return self[name]


def translate(path: Path) -> dict[str, Any]:
    from samtranslator.translator.transform import transform

    template = read(path)
    for logical_id, resource in template["Resources"].items():
        props = resource.get("Properties", {})
        for uri in ("CodeUri", "ContentUri"):
            if uri in props:
                props[uri] = f"s3://voiceprint-artifacts/{logical_id}.zip"
    return dict(transform(template, {}, _PolicyMap()))


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[2] / "template.yaml"
    json.dump(translate(target), sys.stdout, indent=1, sort_keys=True)
