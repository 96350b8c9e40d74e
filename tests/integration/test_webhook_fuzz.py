"""Property, on the real webhook handler over moto: whatever an outsider sends (any body, any headers, base64 or
not, any ref, stale or future timestamps, signatures made with a guessed secret or over other bytes), the answer
is 4xx and the table does not change. A genuine request afterwards still applies: the handler could have written."""

from __future__ import annotations

import base64
import copy
import json
import time
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import WEBHOOK_SECRET, context, load_event
from tests.integration.test_webhook_handler import _invoke, _submitted, webhook_event
from voiceprint.webhook_signature import sign

STATUSES = ["succeeded", "failed", "canceled", "running", "created", "pending", "bogus", ""]


@st.composite
def hostile_requests(draw: st.DrawFn, job_id: str, ref: str) -> dict[str, Any]:
    now = int(time.time())
    payload = draw(
        st.one_of(
            st.binary(max_size=512),
            st.fixed_dictionaries(
                {
                    "jobId": st.one_of(st.just(job_id), st.text(max_size=40)),
                    "status": st.sampled_from(STATUSES),
                },
                optional={
                    "output": st.one_of(
                        st.fixed_dictionaries({"voiceprint": st.text(max_size=60)}),
                        st.fixed_dictionaries({"error": st.text(max_size=60)}),
                        st.none(),
                    )
                },
            ).map(lambda d: json.dumps(d).encode()),
        )
    )
    good_ts = str(now + draw(st.integers(-300, 60)))
    kind = draw(st.sampled_from(["guessed_secret", "other_bytes", "stale", "future", "garbage", "missing"]))
    ts, signature = good_ts, ""
    if kind == "guessed_secret":
        guess = draw(st.text(min_size=1, max_size=40).filter(lambda s: s != WEBHOOK_SECRET))
        signature = sign(guess, ts, payload, draw(st.sampled_from(["hex", "base64"])))
    elif kind == "other_bytes":  # a genuine signature, lifted from another body
        other = draw(st.binary(max_size=256).filter(lambda b: b != payload))
        signature = sign(WEBHOOK_SECRET, ts, other, draw(st.sampled_from(["hex", "base64"])))
    elif kind == "stale":  # a genuine request replayed after the window
        ts = str(now - draw(st.integers(901, 10 * 86400)))
        signature = sign(WEBHOOK_SECRET, ts, payload)
    elif kind == "future":
        ts = str(now + draw(st.integers(301, 10 * 86400)))
        signature = sign(WEBHOOK_SECRET, ts, payload)
    elif kind == "garbage":
        ts = draw(st.one_of(st.text(max_size=20), st.just(good_ts)))
        signature = draw(st.text(max_size=100))
    event = copy.deepcopy(load_event("webhook_succeeded.json"))
    headers = {k: v for k, v in event["headers"].items() if not k.startswith("x-")}
    if kind != "missing":
        headers.update({"x-request-timestamp": ts, "x-signature": signature})
    event["headers"] = headers
    as_base64 = draw(st.booleans())
    event["isBase64Encoded"] = as_base64
    event["body"] = base64.b64encode(payload).decode() if as_base64 else payload.decode("utf-8", "replace")
    chosen_ref = draw(st.one_of(st.just(ref), st.text(max_size=60), st.none()))
    if chosen_ref is None:
        event.pop("queryStringParameters", None)
        event["rawQueryString"] = ""
    else:
        event["queryStringParameters"] = {"ref": chosen_ref}
    return event


def test_hostile_webhooks_never_write(load_handler, aws, emulator) -> None:
    job_id, ref = _submitted(load_handler, aws, emulator)
    app = load_handler("webhook")
    before = aws.items()
    assert before[0]["status"] == "submitted"
    answers: set[int] = set()

    @settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(event=hostile_requests(job_id, ref.webhook_ref))
    def check(event: dict[str, Any]) -> None:
        resp = app.lambda_handler(event, context("webhook"))
        answers.add(resp["statusCode"])
        assert resp["statusCode"] in (400, 401, 413), resp
        assert aws.items() == before

    check()
    assert answers <= {400, 401, 413}
    # The same handler, same record: a genuine webhook applies, so the property above was not vacuous.
    status, body = _invoke(app, webhook_event("webhook_succeeded.json", job_id=job_id, ref=ref.webhook_ref))
    assert (status, body) == (200, {"result": "applied"})
    assert aws.items()[0]["status"] == "succeeded"
