"""The intrinsic functions the local stack resolves for what moto's CloudFormation leaves out: the values must be
the ones CloudFormation would give."""

from __future__ import annotations

from typing import Any

import pytest

from voiceprint_local.cfn_intrinsics import Resolver, Unresolved

TEMPLATE = {
    "Conditions": {
        "HasSuffix": {"Fn::Not": [{"Fn::Equals": [{"Ref": "KeySuffix"}, ""]}]},
        "Both": {"Fn::And": [{"Condition": "HasSuffix"}, {"Fn::Equals": [{"Ref": "Mode"}, "on"]}]},
    }
}


def _resolver(**parameters: str) -> Resolver:
    def attribute(logical_id: str, name: str) -> str:
        if (logical_id, name) == ("InputQueue", "Arn"):
            return "arn:aws:sqs:eu-west-1:123456789012:q"
        raise Unresolved(f"{logical_id}.{name}")

    return Resolver(
        TEMPLATE,
        {"KeySuffix": "", "Mode": "on", **parameters},
        {"InputBucket": "bucket-LOCAL"},
        pseudo={"AWS::Region": "eu-west-1", "AWS::StackName": "voiceprint-local"},
        attribute=attribute,
    )


def test_a_false_condition_drops_the_list_item_that_is_no_value() -> None:
    rules = [
        {"Name": "prefix", "Value": "voiceprints/"},
        {"Fn::If": ["HasSuffix", {"Name": "suffix", "Value": {"Ref": "KeySuffix"}}, {"Ref": "AWS::NoValue"}]},
    ]
    assert _resolver().value(rules) == [{"Name": "prefix", "Value": "voiceprints/"}]
    assert _resolver(KeySuffix=".wav").value(rules)[1] == {"Name": "suffix", "Value": ".wav"}


def test_a_property_that_is_no_value_is_dropped() -> None:
    props = {"KmsKeyId": {"Fn::If": ["HasSuffix", "k", {"Ref": "AWS::NoValue"}]}, "Status": "Enabled"}
    assert _resolver().value(props) == {"Status": "Enabled"}


def test_conditions_combine() -> None:
    assert _resolver().condition("Both") is False
    assert _resolver(KeySuffix=".wav").condition("Both") is True
    assert _resolver(KeySuffix=".wav", Mode="off").condition("Both") is False


def test_sub_join_getatt_and_refs_resolve_as_cloudformation_does() -> None:
    r = _resolver()
    assert r.value({"Fn::Sub": "${AWS::StackName}-voiceprints"}) == "voiceprint-local-voiceprints"
    assert r.value({"Fn::Sub": ["${B}/x", {"B": {"Ref": "InputBucket"}}]}) == "bucket-LOCAL/x"
    assert r.value({"Fn::Sub": "${InputQueue.Arn}"}) == "arn:aws:sqs:eu-west-1:123456789012:q"
    assert r.value({"Fn::GetAtt": ["InputQueue", "Arn"]}) == "arn:aws:sqs:eu-west-1:123456789012:q"
    assert r.value({"Fn::Join": ["-", ["a", {"Ref": "Mode"}]]}) == "a-on"


@pytest.mark.parametrize("node", [{"Ref": "Nowhere"}, {"Fn::GetAtt": ["HttpApi", "ApiEndpoint"]}])
def test_what_cannot_be_resolved_says_so(node: dict[str, Any]) -> None:
    with pytest.raises(Unresolved):
        _resolver().value(node)
