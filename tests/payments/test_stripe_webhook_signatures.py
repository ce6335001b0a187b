"""parse_webhook: Stripe-Signature checked on the raw body (t=..., v1=HMAC-SHA256(secret, "t.body")), 300 s tolerance."""
import hashlib
import hmac
import json
import time
from datetime import UTC, datetime

import pytest
from flask import Flask

from marketplace.payments import stripe_gateway as gateway
from marketplace.payments.stripe_gateway import Event, GatewayError, InvalidWebhook

SECRET = "whsec_test_secret"
EVENT = {
    "id": "evt_1Test",
    "object": "event",
    "type": "payment_intent.succeeded",
    "created": 1795000000,
    "api_version": "2017-08-15",
    "livemode": False,
    "data": {"object": {"id": "pi_1Test", "object": "payment_intent", "amount": 1500000, "currency": "vnd",
                        "status": "succeeded", "metadata": {"reference": "DH-000042"}}},
}


@pytest.fixture(autouse=True)
def app():
    app = Flask(__name__)
    app.config["STRIPE_WEBHOOK_SECRET"] = SECRET
    with app.app_context():
        yield app


def body(event=EVENT):
    return json.dumps(event, ensure_ascii=False, indent=2).encode()


def sign(payload, timestamp=None, secret=SECRET):
    timestamp = int(time.time()) if timestamp is None else timestamp
    signed = f"{timestamp}.".encode() + payload
    return f"t={timestamp},v1={hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()}"


def test_a_signed_event_parses_to_plain_values():
    payload = body()
    event = gateway.parse_webhook(payload, sign(payload))
    assert event == Event(id="evt_1Test", type="payment_intent.succeeded",
                          created=datetime.fromtimestamp(1795000000, UTC), object=EVENT["data"]["object"])
    assert type(event.object) is dict and event.object["amount"] == 1500000


def test_any_of_several_signatures_may_match():
    # Stripe sends one v1 per active secret while a secret is being rolled, and may add other schemes.
    payload = body()
    timestamp = int(time.time())
    good = sign(payload, timestamp).split(",")[1]
    header = f"t={timestamp},v1={'0' * 64},{good},v0=deadbeef"
    assert gateway.parse_webhook(payload, header).id == "evt_1Test"


def test_vietnamese_text_in_the_body_is_checked_as_sent():
    event = {**EVENT, "data": {"object": {**EVENT["data"]["object"], "description": "Đơn hàng mật ong"}}}
    payload = body(event)
    assert gateway.parse_webhook(payload, sign(payload)).object["description"] == "Đơn hàng mật ong"


@pytest.mark.parametrize("header", [
    None,
    "",
    "garbage",
    "t=notanumber,v1=abc",
    "t=1795000000",  # no v1 signature
])
def test_a_missing_or_unreadable_signature_is_refused(header):
    with pytest.raises(InvalidWebhook):
        gateway.parse_webhook(body(), header)


def test_a_forged_signature_is_refused():
    payload = body()
    with pytest.raises(InvalidWebhook, match="No signatures found matching"):
        gateway.parse_webhook(payload, sign(payload, secret="whsec_someone_else"))


def test_a_changed_body_is_refused():
    payload = body()
    header = sign(payload)
    changed = payload.replace(b"1500000", b"1")
    with pytest.raises(InvalidWebhook):
        gateway.parse_webhook(changed, header)
    with pytest.raises(InvalidWebhook):  # re-encoding the JSON (as request.json would) breaks it too
        gateway.parse_webhook(json.dumps(json.loads(payload)).encode(), header)


def test_a_replay_older_than_the_tolerance_is_refused():
    payload = body()
    assert gateway.WEBHOOK_TOLERANCE_SECONDS == 300
    gateway.parse_webhook(payload, sign(payload, int(time.time()) - 290))  # still inside
    with pytest.raises(InvalidWebhook, match="tolerance"):
        gateway.parse_webhook(payload, sign(payload, int(time.time()) - 301))


@pytest.mark.parametrize("payload", [
    b"not json",
    b"",
    b"\xff\xfe{}",  # not UTF-8
    b"[1, 2, 3]",
    b'"event"',
    b"{}",
    json.dumps({**EVENT, "data": {}}).encode(),
    json.dumps({**EVENT, "data": {"object": "pi_1Test"}}).encode(),
    json.dumps({**EVENT, "created": "yesterday"}).encode(),
    json.dumps({**EVENT, "created": 10**20}).encode(),
    json.dumps({**EVENT, "created": True}).encode(),
    json.dumps({**EVENT, "created": 1795000000.5}).encode(),
    json.dumps({**EVENT, "id": 5}).encode(),
    json.dumps({**EVENT, "type": ""}).encode(),
])
def test_a_correctly_signed_body_that_is_not_an_event_is_refused(payload):
    with pytest.raises(InvalidWebhook):
        gateway.parse_webhook(payload, sign(payload))


def test_without_a_webhook_secret_it_is_a_configuration_error(app):
    app.config["STRIPE_WEBHOOK_SECRET"] = None
    payload = body()
    with pytest.raises(GatewayError) as failed:  # not InvalidWebhook: Stripe must retry, not drop the events
        gateway.parse_webhook(payload, sign(payload))
    assert failed.value.code == "not_configured"
