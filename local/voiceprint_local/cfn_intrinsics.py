"""CloudFormation's intrinsic functions, for the parts of the translated template that moto's CloudFormation does
not apply (the local stack then applies them itself, with the same values a deploy would have): Ref (parameters,
pseudo parameters, resources by their physical id), Fn::GetAtt (through a lookup the caller gives), Fn::If with
the template's conditions, Fn::Sub, Fn::Join, Fn::Equals/Not/And/Or, and AWS::NoValue (dropped)."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

NO_VALUE = object()  # what Ref AWS::NoValue stands for until the property holding it is dropped
_SUB = re.compile(r"\$\{([^}!]+)\}")


class Unresolved(LookupError):
    """A reference the resolver cannot answer (e.g. an attribute of a resource moto does not create)."""


class Resolver:
    def __init__(
        self,
        template: Mapping[str, Any],
        parameters: Mapping[str, str],
        physical: Mapping[str, str],
        *,
        pseudo: Mapping[str, str],
        attribute: Callable[[str, str], str],
    ) -> None:
        """`parameters`: every parameter's value (defaults applied); `physical`: logical id -> what Ref gives;
        `pseudo`: AWS::Region, AWS::AccountId, AWS::StackName, AWS::URLSuffix...; `attribute(logical id, name)`
        answers Fn::GetAtt."""
        self._conditions = dict(template.get("Conditions", {}))
        self._parameters = parameters
        self._physical = physical
        self._pseudo = pseudo
        self._attribute = attribute

    def condition(self, name: str) -> bool:
        return bool(self.value(self._conditions[name]))

    def value(self, node: Any) -> Any:
        """`node` with every intrinsic resolved; properties and list items that resolve to AWS::NoValue are gone."""
        if isinstance(node, list):
            return [v for v in (self.value(item) for item in node) if v is not NO_VALUE]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            ((name, arg),) = node.items()
            function = _FUNCTIONS.get(name)
            if function is not None:
                return function(self, arg)
        return {k: v for k, v in ((k, self.value(v)) for k, v in node.items()) if v is not NO_VALUE}

    def ref(self, name: str) -> Any:
        if name == "AWS::NoValue":
            return NO_VALUE
        for source in (self._parameters, self._pseudo, self._physical):
            if name in source:
                return source[name]
        raise Unresolved(f"Ref {name}")

    def _if(self, arg: list[Any]) -> Any:
        name, then, otherwise = arg
        return self.value(then if self.condition(name) else otherwise)

    def _sub(self, arg: Any) -> str:
        text, variables = (arg, {}) if isinstance(arg, str) else (arg[0], self.value(arg[1]))

        def one(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in variables:
                return str(variables[name])
            if "." in name:
                return str(self._attribute(*name.split(".", 1)))
            return str(self.ref(name))

        return _SUB.sub(one, text)


_FUNCTIONS: dict[str, Callable[[Resolver, Any], Any]] = {
    "Ref": lambda r, a: r.ref(a),
    "Condition": lambda r, a: r.condition(a),
    "Fn::If": Resolver._if,
    "Fn::Sub": Resolver._sub,
    "Fn::GetAtt": lambda r, a: r._attribute(*(a.split(".", 1) if isinstance(a, str) else a)),
    "Fn::Join": lambda r, a: str(a[0]).join(str(v) for v in r.value(a[1])),
    "Fn::Equals": lambda r, a: r.value(a[0]) == r.value(a[1]),
    "Fn::Not": lambda r, a: not r.value(a[0]),
    "Fn::And": lambda r, a: all(r.value(v) for v in a),
    "Fn::Or": lambda r, a: any(r.value(v) for v in a),
}
