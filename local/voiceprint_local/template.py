"""Reads template.yaml (CloudFormation YAML with its !Tags) so the local stack and the tests create the same
resources, with the same settings, as the deployed stack: nothing about them is written down twice."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE_PATH = ROOT / "template.yaml"


class _CfnLoader(yaml.SafeLoader):
    pass


def _tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    name = "Ref" if suffix == "Ref" else f"Fn::{suffix}"
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
        if suffix == "GetAtt":
            value = str(value).split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    return {name: value}


_CfnLoader.add_multi_constructor("!", _tag)


def read(path: Path) -> dict[str, Any]:
    """A CloudFormation YAML file, intrinsics as their JSON form ({"Ref": ...}, {"Fn::Sub": ...})."""
    return dict(yaml.load(path.read_text(), Loader=_CfnLoader))  # noqa: S506 - SafeLoader subclass


@lru_cache(maxsize=1)
def load() -> dict[str, Any]:
    return read(TEMPLATE_PATH)


def resources(kind: str | None = None) -> dict[str, dict[str, Any]]:
    found = load()["Resources"]
    return {k: v for k, v in found.items() if kind is None or v["Type"] == kind}


def parameter_defaults() -> dict[str, str]:
    return {k: str(v["Default"]) for k, v in load()["Parameters"].items() if "Default" in v}


def resolve(value: Any, refs: dict[str, str]) -> Any:
    """Resolve !Ref to parameters (defaults) or to the given names, and !If by the template's conditions on those
    parameters; other intrinsics are left as they are."""
    if isinstance(value, dict) and set(value) == {"Ref"}:
        name = value["Ref"]
        params = parameter_defaults()
        return refs.get(name, params.get(name, value))
    if isinstance(value, dict) and set(value) == {"Fn::If"}:
        from voiceprint_local.cfn_intrinsics import Resolver

        name, then, otherwise = value["Fn::If"]
        parameters = {**parameter_defaults(), **{k: v for k, v in refs.items() if k in load()["Parameters"]}}
        conditions = Resolver(load(), parameters, {}, pseudo={}, attribute=lambda *_: "")
        return resolve(then if conditions.condition(name) else otherwise, refs)
    if isinstance(value, dict):
        return {k: resolve(v, refs) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve(v, refs) for v in value]
    return value


def table_definition(logical_id: str = "JobsTable") -> dict[str, Any]:
    """create_table arguments for a DynamoDB table of the template."""
    props = resources()[logical_id]["Properties"]
    definition = {
        "AttributeDefinitions": props["AttributeDefinitions"],
        "KeySchema": props["KeySchema"],
        "GlobalSecondaryIndexes": props.get("GlobalSecondaryIndexes", []),
        "BillingMode": props["BillingMode"],
    }
    if "StreamSpecification" in props:
        definition["StreamSpecification"] = {"StreamEnabled": True, **props["StreamSpecification"]}
    return definition


def ttl_attribute(logical_id: str = "JobsTable") -> str:
    return str(resources()[logical_id]["Properties"]["TimeToLiveSpecification"]["AttributeName"])


def functions() -> dict[str, dict[str, Any]]:
    return resources("AWS::Serverless::Function")


def global_environment() -> dict[str, Any]:
    return dict(load()["Globals"]["Function"]["Environment"]["Variables"])


def function_environment(logical_id: str) -> dict[str, Any]:
    """Globals plus the function's own variables, unresolved."""
    own = functions()[logical_id]["Properties"].get("Environment", {}).get("Variables", {})
    return {**global_environment(), **own}


def queue_properties(logical_id: str) -> dict[str, Any]:
    return dict(resources()[logical_id]["Properties"])


def resolved_environment(logical_id: str, refs: dict[str, str], overrides: dict[str, str]) -> dict[str, str]:
    """A function's environment as Lambda would see it: !Refs resolved against `refs` and parameter defaults,
    other intrinsics (the stack-derived webhook URL) taken from `overrides`."""
    env: dict[str, str] = {}
    for name, value in function_environment(logical_id).items():
        if name in overrides:
            env[name] = overrides[name]
            continue
        resolved = resolve(value, refs)
        if isinstance(resolved, dict):
            raise KeyError(f"{logical_id}.{name} needs an override: {resolved}")
        env[name] = str(resolved)
    return env
