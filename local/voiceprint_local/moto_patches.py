"""Where moto behaves in ways AWS never would, the local stack makes it behave as AWS does. Each patch is
idempotent (every stack start applies them all) and keeps moto's original behind `__wrapped__` (DynamoDB's behind
`__moto_original__`, since its lock and its limits compose).

- DynamoDB: an UpdateItem on a new item first stores its keys, then applies the update; a reader in another thread
  could see that keys-only item, which DynamoDB never shows. One lock makes every write and read atomic.
- S3's notifications and its events on EventBridge as AWS sends them (moto_s3_events).
- SQS reads its clock through datetimes on every message check: same values from time.time(), much faster; and
  it checks each returned message's retention by reading every queue attribute (counting the queue three times);
  a send and each name asked of GetQueueAttributes computed every attribute too. Same answers, computed once.
- DynamoDB's Query sorted every item of the table before it looked at the key condition, then sorted the
  matches again by the keys it answers in: it walks only the items that can match, unsorted, and moto still
  checks and sorts them (same answers, in the same order).
- moto's server lists its package directory to route every request: listed once.
- AWS's size limits, which moto does not enforce (`aws_limits`): items over 400 KB (moto half-applies such an
  UpdateItem: the SETs land, then it fails), index keys over 2,048 bytes (partition) or 1,024 bytes (sort) written by
  UpdateItem, PutEvents requests over 256 KB, and S3 keys over 1,024 bytes. Refused as AWS refuses them, and an
  UpdateItem that is refused changes nothing, stream included.
"""

from __future__ import annotations

import copy
import functools
import json
import threading
import time
from typing import Any

from voiceprint_local import moto_s3_events

# One lock for all of moto's DynamoDB: moto serves each request on its own thread.
DYNAMODB_LOCK = threading.RLock()
_DYNAMODB_CALLS = (
    "put_item",
    "update_item",
    "delete_item",
    "get_item",
    "query",
    "scan",
    "batch_get_item",
    "batch_write_item",
    "transact_get_items",
    "transact_write_items",
)
_DYNAMODB_PATCHES: set[str] = set()  # which of "lock" and "limits" are on


# AWS's limits (DynamoDB: Service quotas; EventBridge: PutEvents; S3: object key naming).
ITEM_MAX_BYTES = 400 * 1024
INDEX_HASH_KEY_MAX_BYTES = 2048
INDEX_RANGE_KEY_MAX_BYTES = 1024
PUT_EVENTS_MAX_BYTES = 256 * 1024
S3_KEY_MAX_BYTES = 1024


def apply() -> None:
    aws_limits()
    atomic_dynamodb()
    moto_s3_events.apply()
    speed_up_sqs_clock()
    speed_up_sqs_retention_check()
    speed_up_sqs_attributes()
    speed_up_moto_dispatch()
    speed_up_dynamodb_queries()


def atomic_dynamodb() -> None:
    _DYNAMODB_PATCHES.add("lock")
    _install_dynamodb()


def _install_dynamodb() -> None:
    """(Re)install DynamoDB's wrappers from moto's originals: the limits inside, the lock outside."""
    from moto.dynamodb.models import DynamoDBBackend

    for name in _DYNAMODB_CALLS:
        method = getattr(DynamoDBBackend, name, None)
        if method is None:
            continue
        original = getattr(method, "__moto_original__", method)
        wrapped = original
        if name == "update_item" and "limits" in _DYNAMODB_PATCHES:
            wrapped = _limited_update_item(original)
        if name == "transact_write_items" and "lock" in _DYNAMODB_PATCHES:
            wrapped = _checked_then_applied(original)
        if "lock" in _DYNAMODB_PATCHES:
            wrapped = _locked(wrapped)
        wrapped.__moto_original__ = original
        setattr(DynamoDBBackend, name, wrapped)


def _checked_then_applied(original: Any) -> Any:
    """TransactWriteItems without moto's deep copy of every table it touches (per transaction: a cost that grows
    with the table, seconds per job in a long run): every condition is checked first, then every write applied,
    all under the lock, so no other request sees or changes anything in between. Other shapes go to moto."""
    from moto.dynamodb.comparisons import get_filter_expression
    from moto.dynamodb.exceptions import MultipleTransactionsException, TransactionCanceledException

    @functools.wraps(original)
    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> Any:
        ops = [next(iter(item.items())) for item in transact_items]
        if len(ops) > 100 or any(kind not in ("Update", "ConditionCheck", "Delete") for kind, _ in ops):
            return original(self, transact_items)
        seen: set[tuple[str, str]] = set()
        reasons: list[tuple[str | None, str | None, Any]] = []
        for _, op in ops:
            ident = (op["TableName"], json.dumps(op["Key"], sort_keys=True))
            if ident in seen:
                raise MultipleTransactionsException()
            seen.add(ident)
            current = self.get_item(op["TableName"], op["Key"])
            condition = op.get("ConditionExpression")
            names, values = op.get("ExpressionAttributeNames"), op.get("ExpressionAttributeValues")
            if condition and not get_filter_expression(condition, names, values).expr(current):
                old = op.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD" and current is not None
                reasons.append(
                    (
                        "ConditionalCheckFailed",
                        "The conditional request failed",
                        old and current.to_json()["Attributes"],
                    )
                )
            else:
                reasons.append((None, None, None))
        if any(code is not None for code, _, _ in reasons):
            raise TransactionCanceledException(reasons)
        for kind, op in ops:
            names, values = op.get("ExpressionAttributeNames"), op.get("ExpressionAttributeValues")
            if kind == "Update":
                self.update_item(
                    op["TableName"],
                    op["Key"],
                    update_expression=op["UpdateExpression"],
                    expression_attribute_names=names,
                    expression_attribute_values=values,
                )
            elif kind == "Delete":
                self.delete_item(op["TableName"], op["Key"])
        return None

    return transact_write_items


def _locked(call: Any) -> Any:
    @functools.wraps(call)
    def locked(self: Any, *args: Any, **kwargs: Any) -> Any:
        with DYNAMODB_LOCK:
            return call(self, *args, **kwargs)

    return locked


def speed_up_sqs_clock() -> None:
    """moto's SQS model checks every message of a queue on each call (visibility, delay, attribute counts), and
    each check builds datetimes to read the clock: a 10,000-message queue made every call take tens of
    milliseconds and the stack crawl (0.5 messages/s). Same values from time.time(), about 25 times faster."""
    import moto.sqs.models as sqs_models

    namespace = vars(sqs_models)  # the module's globals, which its functions read at call time
    original = getattr(namespace["unix_time"], "__wrapped__", namespace["unix_time"])

    def unix_time(dt: Any = None) -> float:
        return time.time() if dt is None else float(original(dt))

    def unix_time_millis(dt: Any = None) -> float:
        return unix_time(dt) * 1000.0

    unix_time.__wrapped__ = original  # type: ignore[attr-defined]
    namespace["unix_time"] = unix_time
    namespace["unix_time_millis"] = unix_time_millis


def speed_up_sqs_retention_check() -> None:
    """moto checks each message it returns against the queue's retention by reading every queue attribute, three
    of which count the whole queue: a receive from a 10,000-message queue took ~460 ms. The same check from the
    queue's own field takes ~17 ms (the expiry is unchanged: sent time + MessageRetentionPeriod, against the clock)."""
    import moto.sqs.models as sqs_models

    backend = sqs_models.SQSBackend
    original = getattr(
        backend.is_message_valid_based_on_retention_period,
        "__wrapped__",
        backend.is_message_valid_based_on_retention_period,
    )

    def is_message_valid_based_on_retention_period(self: Any, queue_name: str, message: Any) -> bool:
        retention = int(self.get_queue(queue_name).message_retention_period)
        return bool(retention + message.sent_timestamp / 1000 > vars(sqs_models)["unix_time"]())

    is_message_valid_based_on_retention_period.__wrapped__ = original  # type: ignore[attr-defined]
    backend.is_message_valid_based_on_retention_period = is_message_valid_based_on_retention_period  # type: ignore[method-assign]


class _Wrapping(property):
    """A property that keeps the one it replaces, as the patched functions here do."""

    def __init__(self, fget: Any, *, wrapped: Any) -> None:
        super().__init__(fget)
        self.__wrapped__ = wrapped


# Set while moto's SQS sends a message: it reads one attribute of the queue, ContentBasedDeduplication.
_SQS_SENDING = threading.local()


def speed_up_sqs_attributes() -> None:
    """moto computes every attribute of a queue, three of which count all its messages, where one is read: once per
    message sent (for ContentBasedDeduplication) and once per name asked in GetQueueAttributes, plus once. With
    10,000 messages waiting, each upload's notification and each depth read cost several passes over the queue.
    Here a send sees the one attribute it reads, and GetQueueAttributes computes the attributes once: same answers.
    """
    import moto.sqs.models as sqs_models
    from moto.sqs.exceptions import InvalidAttributeName

    queue_class, backend = sqs_models.Queue, sqs_models.SQSBackend
    full: Any = getattr(queue_class.attributes, "__wrapped__", queue_class.attributes)
    send = getattr(backend.send_message, "__wrapped__", backend.send_message)
    get = getattr(backend.get_queue_attributes, "__wrapped__", backend.get_queue_attributes)

    def attributes(self: Any) -> dict[str, Any]:
        if getattr(_SQS_SENDING, "on", False):
            # What moto's attributes hold for it: a FIFO queue's setting as "true"/"false", nothing for a standard one.
            if not self.fifo_queue:
                return {}
            return {"ContentBasedDeduplication": str(self.content_based_deduplication).lower()}
        return dict(full.fget(self))

    def send_message(self: Any, *args: Any, **kwargs: Any) -> Any:
        _SQS_SENDING.on = True
        try:
            return send(self, *args, **kwargs)
        finally:
            _SQS_SENDING.on = False

    def get_queue_attributes(self: Any, queue_name: str, attribute_names: list[str]) -> dict[str, Any]:
        queue = self.get_queue(queue_name)
        if not attribute_names:
            return {}
        # moto's validation, as it words it
        valid = ["All", *queue.BASE_ATTRIBUTES, *queue.FIFO_ATTRIBUTES, *queue.KMS_ATTRIBUTES]
        invalid = next((name for name in attribute_names if name not in valid), None)
        if invalid is not None:
            raise InvalidAttributeName(invalid)
        every: dict[str, Any] = queue.attributes
        if "All" in attribute_names:
            return every
        return {name: every[name] for name in attribute_names if every.get(name) is not None}

    queue_class.attributes = _Wrapping(attributes, wrapped=full)  # type: ignore[method-assign,assignment]
    send_message.__wrapped__ = send  # type: ignore[attr-defined]
    backend.send_message = send_message  # type: ignore[method-assign]
    get_queue_attributes.__wrapped__ = get  # type: ignore[attr-defined]
    backend.get_queue_attributes = get_queue_attributes  # type: ignore[method-assign]


def speed_up_moto_dispatch() -> None:
    """moto's server finds each request's backend by listing its own package directory (a listdir and ~150 isdir
    calls) while holding the dispatcher's lock: a fifth of the request threads' sampled time, most of it waiting on
    that lock (a 500-upload burst drained no faster without it: the stack is bound by its CPU elsewhere). The
    directory does not change while the server runs, so the list is read once."""
    from moto import backends

    original = getattr(backends.list_of_moto_modules, "__wrapped__", backends.list_of_moto_modules)
    modules = frozenset(original())

    def list_of_moto_modules() -> frozenset[str]:
        return modules

    list_of_moto_modules.__wrapped__ = original  # type: ignore[attr-defined]
    backends.list_of_moto_modules = list_of_moto_modules


# Set while moto's DynamoDB answers a Query: the key it looks for, so that its walk over the table's items can
# skip those that cannot match.
_DYNAMODB_QUERYING = threading.local()


def speed_up_dynamodb_queries() -> None:
    """moto's Query walks `Table.all_items()`, which sorts every item of the table by its keys (each key cast on
    every comparison), then keeps the items whose partition key matches, and sorts those by the keys the answer is
    ordered by: the index's keys then the table's (an index query), or the sort key (a table query). That order is
    total, so the first sort changes nothing but the time. With 6,000 records a query took 70 ms, and the webhook
    looks its record up by job id (byJobId) once per job; the reconciler reads byPending.

    Here a Query's walk is given, unsorted, a subset of the items that holds every match: a table query's
    partition, an index query's items whose string or binary key attributes equal the condition's (other types are
    left to moto's own comparison). moto still checks and sorts each of them: same answers, in the same order.
    A Scan, whose pages follow `all_items()`'s order, keeps it."""
    import inspect

    from moto.dynamodb.models.table import Table

    every: Any = getattr(Table.all_items, "__wrapped__", Table.all_items)
    query: Any = getattr(Table.query, "__wrapped__", Table.query)
    signature = inspect.signature(query)

    def all_items(self: Any) -> list[Any]:
        querying = getattr(_DYNAMODB_QUERYING, "asked", None)
        if querying is None:
            walked: list[Any] = every(self)  # moto's own: a new list, sorted
            return walked
        index_name, hash_key, conditions = querying
        if not index_name and hash_key is not None:
            # Partitions are keyed by (type, cast value), as moto's own equality compares them.
            partition = self.items.get(hash_key)  # .get: the table's defaultdict must not grow a partition
            if partition is None:
                return []
            return list(partition.values()) if self.range_key_attr else [partition]
        partitions = self.items.values()
        items = [i for p in partitions for i in p.values()] if self.range_key_attr else list(partitions)
        for name, wanted in conditions if index_name else ():
            if wanted.type in ("S", "B"):
                value, kind = wanted.value, wanted.type
                items = [
                    i for i in items if (v := i.attrs.get(name)) is not None and v.value == value and v.type == kind
                ]
        return items

    def table_query(self: Any, *args: Any, **kwargs: Any) -> Any:
        bound = signature.bind(self, *args, **kwargs).arguments
        conditions = bound.get("hash_key_conditions") or []
        _DYNAMODB_QUERYING.asked = (bound.get("index_name"), bound.get("hash_key"), conditions)
        try:
            return query(self, *args, **kwargs)
        finally:
            _DYNAMODB_QUERYING.asked = None

    all_items.__wrapped__ = every  # type: ignore[attr-defined]
    Table.all_items = all_items  # type: ignore[method-assign]
    table_query.__wrapped__ = query  # type: ignore[attr-defined]
    Table.query = table_query  # type: ignore[method-assign]


def aws_limits() -> None:
    """AWS's size limits where moto has none (module docstring). Idempotent, like every patch here."""
    _dynamodb_update_limits()
    _put_events_limit()
    _s3_key_limit()


def _dynamodb_update_limits() -> None:
    _DYNAMODB_PATCHES.add("limits")
    _install_dynamodb()


def _limited_update_item(original: Any) -> Any:
    from moto.dynamodb.exceptions import ItemSizeToUpdateTooLarge, MockValidationException
    from moto.dynamodb.models.dynamo_type import DynamoType

    def refused(table: Any, new: Any) -> Exception | None:
        if new is None:
            return None
        if new.size() > ITEM_MAX_BYTES:
            return ItemSizeToUpdateTooLarge()
        for names, limit, which in (
            (table.hash_key_names, INDEX_HASH_KEY_MAX_BYTES, "hashkey"),
            (table.range_key_names, INDEX_RANGE_KEY_MAX_BYTES, "rangekey"),
        ):
            for name in names:
                value = new.attrs.get(name)
                if isinstance(value, DynamoType) and value.size() > limit:
                    return MockValidationException(
                        "One or more parameter values were invalid: Size of "
                        f"{which} has exceeded the maximum size limit of {limit} bytes"
                    )
        return None

    @functools.wraps(original)
    def update_item(self: Any, table_name: str, key: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        table = self.get_table(table_name)
        hash_value, range_value = self.get_keys_value(table, key)
        before = copy.deepcopy(table.get_item(hash_value, range_value))
        shard, table.stream_shard = table.stream_shard, None  # the stream sees the update only if it stands
        try:
            try:
                new = original(self, table_name, key, *args, **kwargs)
                problem = refused(table, new)
            except ItemSizeToUpdateTooLarge as exc:
                problem = exc  # moto raised it half-way, after some SETs had landed
            if problem is not None:
                partition = table.items[hash_value] if table.has_range_key else table.items
                slot = range_value if table.has_range_key else hash_value
                if before is None:
                    partition.pop(slot, None)
                else:
                    partition[slot] = before
                raise problem
        finally:
            table.stream_shard = shard
        if shard is not None:
            shard.add(before, new)
        return new

    return update_item


def _put_events_limit() -> None:
    from moto.events.exceptions import ValidationException
    from moto.events.models import EventsBackend

    original = getattr(EventsBackend.put_events, "__wrapped__", EventsBackend.put_events)

    @functools.wraps(original)
    def put_events(self: Any, events: list[dict[str, Any]]) -> Any:
        if sum(put_events_entry_size(e) for e in events) > PUT_EVENTS_MAX_BYTES:
            raise ValidationException("Total size of the entries in the request is over the limit.")
        return original(self, events)

    EventsBackend.put_events = put_events  # type: ignore[method-assign]


def put_events_entry_size(entry: dict[str, Any]) -> int:
    """An entry's size as EventBridge counts it (Time: 14 bytes; Source, DetailType, Detail, Resources: UTF-8)."""
    size = 14 if entry.get("Time") else 0
    for name in ("Source", "DetailType", "Detail"):
        size += len(str(entry.get(name) or "").encode())
    return size + sum(len(str(r).encode()) for r in entry.get("Resources") or [])


def _s3_key_limit() -> None:
    from moto.s3.exceptions import S3ClientError
    from moto.s3.models import S3Backend

    class KeyTooLongError(S3ClientError):
        def __init__(self) -> None:
            super().__init__("KeyTooLongError", "Your key is too long")

    def guard(name: str, key_arg: int, key_kw: str) -> None:
        method = getattr(S3Backend, name)
        original = getattr(method, "__wrapped__", method)

        @functools.wraps(original)
        def limited(self: Any, *args: Any, __original: Any = original, **kwargs: Any) -> Any:
            key = kwargs.get(key_kw, args[key_arg] if len(args) > key_arg else "")
            if len(str(key).encode()) > S3_KEY_MAX_BYTES:
                raise KeyTooLongError()
            return __original(self, *args, **kwargs)

        setattr(S3Backend, name, limited)

    guard("put_object", 1, "key_name")
    guard("copy_object", 2, "dest_key_name")
    guard("create_multipart_upload", 1, "key_name")
