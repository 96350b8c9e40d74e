"""Validation of JSON bodies against the vendor's openapi.json (OpenAPI 3.0 schemas -> JSON Schema)."""

from __future__ import annotations

import copy
import json
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

import jsonschema

SPEC_PATH = Path(__file__).resolve().parents[2] / "contracts" / "pyannote" / "openapi.json"


@lru_cache(maxsize=1)
def spec() -> dict[str, Any]:
    return dict(json.loads(SPEC_PATH.read_text()))


def _convert(node: Any, schemas: dict[str, Any], seen: tuple[str, ...] = ()) -> Any:
    """Inline $refs and translate the OpenAPI 3.0 dialect (nullable, JS-style /.../ patterns)."""
    if isinstance(node, list):
        return [_convert(n, schemas, seen) for n in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        name = node["$ref"].rsplit("/", 1)[-1]
        if name in seen:
            raise ValueError(f"recursive schema {name}")
        return _convert(schemas[name], schemas, (*seen, name))
    out = {k: _convert(v, schemas, seen) for k, v in node.items() if k not in ("nullable", "example", "format")}
    pattern = out.get("pattern")
    if isinstance(pattern, str) and len(pattern) > 2 and pattern.startswith("/") and pattern.endswith("/"):
        out["pattern"] = pattern[1:-1].replace("\\/", "/")
    if node.get("nullable"):
        return {"anyOf": [out, {"type": "null"}]}
    return out


@cache
def _validator(name: str) -> jsonschema.Draft7Validator:
    schemas = spec()["components"]["schemas"]
    return jsonschema.Draft7Validator(_convert(copy.deepcopy(schemas[name]), schemas))


def errors(schema_name: str, instance: Any) -> list[str]:
    """Validation errors of `instance` against components.schemas[schema_name] (empty when valid)."""
    return [
        f"{'/'.join(str(p) for p in e.absolute_path) or '<root>'}: {e.message}"
        for e in _validator(schema_name).iter_errors(instance)
    ]


def validate(schema_name: str, instance: Any) -> None:
    problems = errors(schema_name, instance)
    if problems:
        raise AssertionError(f"{schema_name} invalid: {problems}")


def response_schema(path: str, method: str, status: int) -> str:
    """The component schema name the spec gives for an answer (the first alternative of a oneOf).

    GET /v1/jobs/{jobId} answers oneOf Diarization/Voiceprint/Identification jobs whose schemas overlap (none
    forbids extra properties), so callers validate a job against the alternative for the kind they submitted.
    """
    op = spec()["paths"][path][method.lower()]
    schema = op["responses"][str(status)]["content"]["application/json"]["schema"]
    ref = schema.get("$ref") or schema["oneOf"][0]["$ref"]
    return str(ref.rsplit("/", 1)[-1])
