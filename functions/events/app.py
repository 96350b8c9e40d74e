"""DynamoDB stream of the jobs table -> EventBridge: Voiceprint/Identification Ready, Failed, Deleted."""

from __future__ import annotations

from voiceprint import container_init

_collector_paused = container_init.begin()  # before the imports and clients it speeds up: see its module

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.utilities.typing import LambdaContext

from voiceprint import wiring
from voiceprint.event_publisher import EventPublisher
from voiceprint.settings import get_settings

logger = Logger()
metrics = Metrics()

settings = get_settings().require("event_bus_name")
publisher = EventPublisher(wiring.events(), settings.event_bus_name)


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return publisher.publish(event.get("Records", []))


container_init.finish(_collector_paused)  # the end of init: what it made is frozen
