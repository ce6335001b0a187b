"""The fake Stripe launcher: localstripe on 127.0.0.1, in memory, with Stripe's idempotency and a usable
confirmCardPayment (marketplace/payments/fake_stripe.py)."""
import json
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from marketplace.payments import stripe_gateway as gateway

pytestmark = pytest.mark.slow  # a server process for the session

PICKLE = Path("/tmp/localstripe.pickle")


def post(url, data, headers=None):
    request = urllib.request.Request(url, data=data, headers=headers or {}, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        with error:
            return error.code, json.load(error)


def listening_addresses(port):
    """The local addresses of the listening TCP sockets on `port` (from /proc/net/tcp and tcp6)."""
    addresses = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, _, hex_port = local.partition(":")
            if state == "0A" and int(hex_port, 16) == port:  # 0A: LISTEN
                addresses.append(address)
    return addresses


def test_it_listens_on_the_loopback_interface_only(localstripe):
    port = urllib.parse.urlsplit(localstripe).port
    assert listening_addresses(port) == ["0100007F"]  # 127.0.0.1, little-endian; nothing on IPv6 or 0.0.0.0


def test_it_keeps_its_store_in_memory(stripe_app, localstripe):
    before = PICKLE.stat().st_mtime_ns if PICKLE.exists() else None
    gateway.create_payment_intent(10_000, "DH-1", "pickle-check", {})
    assert (PICKLE.stat().st_mtime_ns if PICKLE.exists() else None) == before


def test_it_serves_a_stand_in_for_stripe_js(localstripe):
    with urllib.request.urlopen(localstripe + "/js.stripe.com/v3/", timeout=10) as response:
        assert response.headers.get_content_type() == "application/javascript"
        script = response.read().decode()
    assert "confirmCardPayment" in script and "/_authenticate?success=" in script


@pytest.mark.parametrize(("success", "status", "error"), [
    ("true", "succeeded", None),
    ("false", "requires_payment_method", "payment_intent_authentication_failure"),
])
def test_confirm_card_payment_pays_or_fails_a_fresh_intent(stripe_app, localstripe, success, status, error):
    """What the stand-in's confirmCardPayment(clientSecret) sends after its 3-D Secure dialog."""
    intent = gateway.create_payment_intent(990_000, "DH-9", f"js-{success}", {})
    answer, body = post(f"{localstripe}/v1/payment_intents/{intent.id}/_authenticate?success={success}",
                        json.dumps({"key": "pk_test_marketplace", "client_secret": intent.client_secret}).encode())
    assert answer == 200 and body["status"] == status
    again = gateway.retrieve_payment_intent(intent.id)
    assert (again.status, again.last_payment_error, again.amount) == (status, error, 990_000)


def test_confirm_card_payment_needs_the_client_secret(stripe_app, localstripe):
    intent = gateway.create_payment_intent(990_000, "DH-9", "js-wrong-secret", {})
    answer, body = post(f"{localstripe}/v1/payment_intents/{intent.id}/_authenticate?success=true",
                        json.dumps({"key": "pk_test_marketplace", "client_secret": intent.id + "_secret_x"}).encode())
    assert answer == 401
    assert gateway.retrieve_payment_intent(intent.id).status == "requires_payment_method"


def test_an_idempotent_replay_is_marked_and_a_different_request_refused(localstripe):
    headers = {"Authorization": "Bearer sk_test_marketplace", "Idempotency-Key": "fake-replay"}
    url = localstripe + "/v1/payment_intents"
    first = urllib.request.urlopen(urllib.request.Request(url, b"amount=5000&currency=vnd", headers), timeout=10)
    replay = urllib.request.urlopen(urllib.request.Request(url, b"amount=5000&currency=vnd", headers), timeout=10)
    with first, replay:
        assert replay.headers["Idempotent-Replayed"] == "true" and "Idempotent-Replayed" not in first.headers
        assert json.load(replay)["id"] == json.load(first)["id"]
    answer, body = post(url, b"amount=6000&currency=vnd", headers)
    assert answer == 400 and body["error"]["type"] == "idempotency_error"
    other_account = {**headers, "Authorization": "Bearer sk_test_other"}  # keys are per account, as on Stripe
    answer, body = post(url, b"amount=6000&currency=vnd", other_account)
    assert answer == 200 and body["amount"] == 6000
