"""DynamoDB's item codec and an UpdateItem builder that reads like the update it makes.

    Update(keys).set("status", "submitting").set_if_absent("createdAt", now).add("attempts", 1)
        .remove("leaseUntil").when("claimToken = :tok", {":tok": token})

Every attribute name and value goes through a placeholder (#s0, :s0, ...), so reserved words and odd names are
safe; conditions name their own placeholders and pass their values to `when`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

_ser = TypeSerializer()
_de = TypeDeserializer()


def to_ddb(values: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _ser.serialize(v) for k, v in values.items()}


def from_ddb(item: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _de.deserialize(v) for k, v in item.items()}


class Update:
    """One UpdateItem request, built step by step; `request(table)` gives its arguments."""

    def __init__(self, keys: Mapping[str, str]) -> None:
        self._keys = dict(keys)
        self._names: dict[str, str] = {}
        self._values: dict[str, Any] = {}
        self._sets: list[str] = []
        self._removes: list[str] = []
        self._adds: list[str] = []
        self._condition: str | None = None
        self._return_new = False
        self._old_on_conflict = False

    def _name(self, name: str) -> str:
        placeholder = f"#n{len(self._names)}"
        self._names[placeholder] = name
        return placeholder

    def _value(self, value: Any) -> str:
        placeholder = f":v{len(self._values)}"
        self._values[placeholder] = value
        return placeholder

    def set(self, name: str, value: Any) -> Update:
        self._sets.append(f"{self._name(name)} = {self._value(value)}")
        return self

    def set_all(self, values: Mapping[str, Any]) -> Update:
        for name, value in values.items():
            self.set(name, value)
        return self

    def set_if_absent(self, name: str, value: Any) -> Update:
        """Set `name` unless the item already has it (first write wins)."""
        placeholder = self._name(name)
        self._sets.append(f"{placeholder} = if_not_exists({placeholder}, {self._value(value)})")
        return self

    def set_from(self, name: str, source: str, default: Any) -> Update:
        """Set `name` to the item's `source` attribute, or to `default` when the item has none."""
        self._sets.append(f"{self._name(name)} = if_not_exists({self._name(source)}, {self._value(default)})")
        return self

    def set_in_map_if_absent(self, map_name: str, entry: str, value: Any) -> Update:
        """Set map_name[entry] unless that entry exists (the map itself must exist)."""
        path = f"{self._name(map_name)}.{self._name(entry)}"
        self._sets.append(f"{path} = if_not_exists({path}, {self._value(value)})")
        return self

    def remove_in_map(self, map_name: str, entry: str) -> Update:
        """Remove map_name[entry]."""
        self._removes.append(f"{self._name(map_name)}.{self._name(entry)}")
        return self

    def remove(self, *names: str) -> Update:
        self._removes += [self._name(name) for name in names]
        return self

    def add(self, name: str, amount: int) -> Update:
        """Add to a number (created at `amount` when absent)."""
        self._adds.append(f"{self._name(name)} {self._value(amount)}")
        return self

    def when(
        self, condition: str, values: Mapping[str, Any] | None = None, names: Mapping[str, str] | None = None
    ) -> Update:
        """Only if `condition` holds; its placeholders are the caller's (`:x` values, `#x` names)."""
        self._condition = condition
        self._values.update(values or {})
        self._names.update(names or {})
        return self

    def returning_new(self) -> Update:
        """Answer with the item as written."""
        self._return_new = True
        return self

    def old_on_conflict(self) -> Update:
        """A failed condition comes back with the item that failed it, without a second read."""
        self._old_on_conflict = True
        return self

    @property
    def returns_new(self) -> bool:
        return self._return_new

    def request(self, table: str) -> dict[str, Any]:
        clauses = [
            f"{verb} {', '.join(parts)}"
            for verb, parts in (("SET", self._sets), ("REMOVE", self._removes), ("ADD", self._adds))
            if parts
        ]
        kwargs: dict[str, Any] = {
            "TableName": table,
            "Key": to_ddb(self._keys),
            "UpdateExpression": " ".join(clauses),
            "ExpressionAttributeNames": self._names,
            "ReturnValues": "ALL_NEW" if self._return_new else "NONE",
        }
        if self._values:
            kwargs["ExpressionAttributeValues"] = to_ddb(self._values)
        if self._condition:
            kwargs["ConditionExpression"] = self._condition
            if self._old_on_conflict:
                kwargs["ReturnValuesOnConditionCheckFailure"] = "ALL_OLD"
        return kwargs
