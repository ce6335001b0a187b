"""The Stripe gateway through the real stripe library against the fake Stripe server (localstripe)."""
import dataclasses
import http.server
import json
import socket
import threading
import time
import urllib.parse
import urllib.request
import uuid

import pytest
from flask import Flask

from marketplace.payments import stripe_gateway as gateway
from marketplace.payments.stripe_gateway import GatewayError, Intent

pytestmark = pytest.mark.slow  # a server process for the session

# localstripe's test cards: pm_card_visa (4242 4242 4242 4242) pays; pm_card_chargeCustomerFail
# (4000 0000 0000 0341) is declined when charged. Its pm_card_visa_chargeDeclined (4000 0000 0000 0002) is only
# declined when attached to a customer: charging it succeeds, unlike on Stripe.
PAYS = "pm_card_visa"
DECLINED = "pm_card_chargeCustomerFail"


def key():
    return f"test-{uuid.uuid4()}"


def raw(localstripe, path, data=None):
    """The fake server's JSON answer (None if empty) for `path`, asked with the secret key, outside the library."""
    body = urllib.parse.urlencode(data).encode() if data is not None else None
    request = urllib.request.Request(localstripe + path, data=body,
                                     headers={"Authorization": "Bearer sk_test_marketplace"})
    with urllib.request.urlopen(request, timeout=10) as response:
        text = response.read()
    return json.loads(text) if text else None


def all_charges(localstripe):
    """Every charge the fake server holds (its lists come in pages of 10, oldest first; other tests add more)."""
    charges, after = [], None
    while True:
        page = raw(localstripe, "/v1/charges?limit=100" + (f"&starting_after={after}" if after else ""))["data"]
        charges += page
        if len(page) < 100:
            return charges
        after = page[-1]["id"]


def new_intent(amount=1_500_000, reference="DH-000042", metadata=None):
    return gateway.create_payment_intent(amount, reference, key(), metadata or {"order_id": 42})


# ------------------------------------------------------------------------------------------ payment intents


def test_an_intent_is_created_in_whole_dong(stripe_app, localstripe):
    intent = new_intent(1_500_000, metadata={"order_id": 42, "buyer": "Công ty CP Thực phẩm Sạch Thủ Đô"})
    assert isinstance(intent, Intent)
    assert intent.id.startswith("pi_") and intent.status == "requires_payment_method"
    assert intent.amount == 1_500_000 and type(intent.amount) is int and intent.currency == "vnd"
    assert intent.client_secret.startswith(intent.id + "_secret_")
    assert intent.metadata == {"order_id": "42", "buyer": "Công ty CP Thực phẩm Sạch Thủ Đô", "reference": "DH-000042"}
    assert intent.last_payment_error is None
    stored = raw(localstripe, f"/v1/payment_intents/{intent.id}")
    assert stored["amount"] == 1_500_000 and stored["currency"] == "vnd"  # what went over the wire: never × 100
    with pytest.raises(dataclasses.FrozenInstanceError):
        intent.status = "succeeded"


def test_a_test_card_pays_the_intent(stripe_app):
    intent = new_intent(250_000)
    paid = gateway.confirm_payment_intent(intent.id, PAYS, key())
    assert paid.status == "succeeded" and paid.amount == 250_000
    assert gateway.retrieve_payment_intent(intent.id) == paid


def test_a_declined_card_raises_card_declined(stripe_app):
    intent = new_intent()
    with pytest.raises(GatewayError) as declined:
        gateway.confirm_payment_intent(intent.id, DECLINED, key())
    assert declined.value.code == "card_declined" and not declined.value.retryable
    assert declined.value.http_status == 402
    again = gateway.retrieve_payment_intent(intent.id)
    assert again.status == "requires_payment_method" and again.last_payment_error == "card_declined"
    # On Stripe another card could now pay this intent; localstripe 1.15 refuses to confirm it again (400).


def test_a_card_asking_for_3d_secure_leaves_the_intent_requiring_action(stripe_app, localstripe):
    card = raw(localstripe, "/v1/payment_methods", {"type": "card", "card[number]": "4000002500003155",
                                                    "card[exp_month]": "12", "card[exp_year]": "2030",
                                                    "card[cvc]": "123"})
    intent = new_intent()
    assert gateway.confirm_payment_intent(intent.id, card["id"], key()).status == "requires_action"


def test_an_unknown_intent_is_resource_missing(stripe_app):
    with pytest.raises(GatewayError) as missing:
        gateway.retrieve_payment_intent("pi_doesnotexist")
    assert missing.value.code == "resource_missing" and missing.value.http_status == 404


def test_the_same_idempotency_key_returns_the_same_intent(stripe_app):
    idempotency_key = key()
    first = gateway.create_payment_intent(700_000, "DH-7", idempotency_key, {"order_id": 7})
    retry = gateway.create_payment_intent(700_000, "DH-7", idempotency_key, {"order_id": 7})
    assert retry == first
    assert gateway.create_payment_intent(700_000, "DH-7", key(), {"order_id": 7}).id != first.id
    with pytest.raises(GatewayError) as conflict:  # the same key for another payment is a bug, not a retry
        gateway.create_payment_intent(800_000, "DH-7", idempotency_key, {"order_id": 7})
    assert conflict.value.code == "idempotency_conflict" and not conflict.value.retryable


def test_confirming_twice_with_the_same_key_pays_once(stripe_app, localstripe):
    intent = new_intent(300_000)
    idempotency_key = key()
    assert gateway.confirm_payment_intent(intent.id, PAYS, idempotency_key).status == "succeeded"
    assert gateway.confirm_payment_intent(intent.id, PAYS, idempotency_key).status == "succeeded"
    assert [c["amount"] for c in all_charges(localstripe) if c["payment_intent"] == intent.id] == [300_000]


# ---------------------------------------------------------------------------------------------------- refunds


def test_a_paid_intent_is_refunded_once_per_key(stripe_app, localstripe):
    intent = new_intent(1_200_000)
    gateway.confirm_payment_intent(intent.id, PAYS, key())
    idempotency_key = key()
    refund_id = gateway.refund(intent.id, 200_000, idempotency_key)
    assert refund_id.startswith("re_")
    assert gateway.refund(intent.id, 200_000, idempotency_key) == refund_id  # a retry refunds nothing more
    refunds = raw(localstripe, f"/v1/refunds?payment_intent={intent.id}")["data"]
    assert [(r["id"], r["amount"], r["currency"]) for r in refunds] == [(refund_id, 200_000, "vnd")]


def test_a_failed_payment_cannot_be_refunded(stripe_app):
    intent = new_intent()
    with pytest.raises(GatewayError):
        gateway.confirm_payment_intent(intent.id, DECLINED, key())
    with pytest.raises(GatewayError) as refused:
        gateway.refund(intent.id, 1000, key())
    assert refused.value.code == "stripe_error" and refused.value.http_status == 400 and not refused.value.retryable


# ------------------------------------------------------------------------------------- refusals and failures


@pytest.mark.parametrize("amount", [0, -1, 1500.0, "1500000", True, None])
def test_amounts_must_be_positive_whole_dong(stripe_app, amount):
    with pytest.raises(ValueError, match="whole number of đồng"):
        gateway.create_payment_intent(amount, "DH-1", key(), {})
    with pytest.raises(ValueError, match="whole number of đồng"):
        gateway.refund("pi_x", amount, key())


@pytest.mark.parametrize("idempotency_key", [None, "", "x" * 201])
def test_creating_calls_require_an_idempotency_key(stripe_app, idempotency_key):
    with pytest.raises(ValueError, match="idempotency key"):
        gateway.create_payment_intent(1000, "DH-1", idempotency_key, {})
    with pytest.raises(ValueError, match="idempotency key"):
        gateway.refund("pi_x", 1000, idempotency_key)
    with pytest.raises(ValueError, match="idempotency key"):
        gateway.confirm_payment_intent("pi_x", PAYS, idempotency_key)


@pytest.mark.parametrize("stripe_id", ["", None, 42, "pi_", "pi_x/../customers", "pi x", "PI_X"])
def test_ids_are_checked_before_they_reach_a_url(stripe_app, stripe_id):
    with pytest.raises(ValueError, match="not a Stripe id"):
        gateway.retrieve_payment_intent(stripe_id)
    with pytest.raises(ValueError, match="not a Stripe id"):
        gateway.refund(stripe_id, 1000, key())
    with pytest.raises(ValueError, match="not a Stripe id"):
        gateway.confirm_payment_intent(stripe_id, PAYS, key())
    with pytest.raises(ValueError, match="not a Stripe id"):
        gateway.confirm_payment_intent("pi_x", stripe_id, key())


def config_app(**config):
    app = Flask(__name__)
    app.config.update(config)
    return app


def test_cards_are_enabled_only_with_both_keys():
    for config, enabled in [({}, False), ({"STRIPE_SECRET_KEY": "sk_test_x"}, False),
                            ({"STRIPE_PUBLISHABLE_KEY": "pk_test_x"}, False),
                            ({"STRIPE_SECRET_KEY": "", "STRIPE_PUBLISHABLE_KEY": "pk_test_x"}, False),
                            ({"STRIPE_SECRET_KEY": "sk_test_x", "STRIPE_PUBLISHABLE_KEY": "pk_test_x"}, True)]:
        with config_app(**config).app_context():
            assert gateway.cards_enabled() is enabled


def test_without_a_secret_key_calls_fail_as_not_configured():
    with config_app(STRIPE_PUBLISHABLE_KEY="pk_test_x").app_context():
        with pytest.raises(GatewayError) as failed:
            gateway.create_payment_intent(1000, "DH-1", key(), {})
    assert failed.value.code == "not_configured" and not failed.value.retryable


@pytest.mark.parametrize("base", ["http://stripe.example.com", "ftp://127.0.0.1:8420", "http://10.0.0.5:8420",
                                  "127.0.0.1:8420"])
def test_the_secret_key_never_travels_in_clear_to_another_machine(base):
    with config_app(STRIPE_SECRET_KEY="sk_test_x", STRIPE_API_BASE=base).app_context():
        with pytest.raises(GatewayError) as refused:
            gateway.retrieve_payment_intent("pi_x")
    assert refused.value.code == "not_configured"


def test_an_unreachable_stripe_is_a_retryable_network_error():
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with config_app(STRIPE_SECRET_KEY="sk_test_x", STRIPE_API_BASE=f"http://127.0.0.1:{port}").app_context():
        with pytest.raises(GatewayError) as failed:
            gateway.create_payment_intent(1000, "DH-1", key(), {})
    assert failed.value.code == "network" and failed.value.retryable


def test_a_wrong_key_is_an_authentication_error(stripe_app, localstripe):
    stripe_app.config["STRIPE_SECRET_KEY"] = "pk_test_not_a_secret_key"
    with pytest.raises(GatewayError) as refused:
        gateway.retrieve_payment_intent("pi_x")
    assert refused.value.code == "authentication" and refused.value.http_status == 401


# ------------------------------------------------------------------------------------------------- webhooks


class Receiver(http.server.BaseHTTPRequestHandler):
    """Keeps what the fake server posts: (body bytes, Stripe-Signature header)."""

    received = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append((body, self.headers.get("Stripe-Signature")))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_the_fake_server_delivers_signed_events_that_parse(stripe_app, localstripe):
    receiver = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=receiver.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{receiver.server_address[1]}/payments/stripe/webhook"
        raw(localstripe, f"/_config/webhooks/{uuid.uuid4().hex}", {"url": url, "secret": stripe_app.config[
            "STRIPE_WEBHOOK_SECRET"], "events[]": "payment_intent.succeeded"})
        intent = new_intent(450_000)
        gateway.confirm_payment_intent(intent.id, PAYS, key())
        deadline = time.monotonic() + 15  # localstripe waits a second before it sends
        while True:
            events = [gateway.parse_webhook(body, header) for body, header in Receiver.received]
            mine = [e for e in events if e.object.get("id") == intent.id]
            if mine or time.monotonic() > deadline:
                break
            time.sleep(0.1)
    finally:
        receiver.shutdown()
        receiver.server_close()
    [event] = mine
    assert event.type == "payment_intent.succeeded" and event.id.startswith("evt_")
    assert event.object["amount"] == 450_000 and event.object["metadata"]["reference"] == "DH-000042"
    assert abs(event.created.timestamp() - time.time()) < 60 and event.created.utcoffset().total_seconds() == 0
