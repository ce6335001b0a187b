"""Card payments end to end with the real stripe library against localstripe: starting the payment that is
due, the browser's return and the webhook running the same idempotent "mark paid", the webhook's signature
on the raw body, repeated and concurrent deliveries, events out of order, amount mismatches, and refunds of
a cancelled order's card payment."""
import hashlib
import hmac
import json
import threading
import time
import uuid

import pytest

from marketplace.catalog.models import Unit
from marketplace.extensions import db
from marketplace.orders import services as orders
from marketplace.orders.models import OrderEventKind, OrderStatus
from marketplace.payments import services as payments
from marketplace.payments import stripe_gateway
from marketplace.payments.models import Payment, PaymentMethod, PaymentStatus, StripeEvent
from tests import factories

SECRET = "whsec_card_tests"
PAYS = "pm_card_visa"
DECLINED = "pm_card_chargeCustomerFail"


@pytest.fixture
def app(make_app, localstripe):
    app = make_app(STRIPE_SECRET_KEY="sk_test_marketplace", STRIPE_PUBLISHABLE_KEY="pk_test_marketplace",
                   STRIPE_WEBHOOK_SECRET=SECRET, STRIPE_API_BASE=localstripe)
    with app.app_context():
        yield app
        db.session.remove()


@pytest.fixture
def trade(app):
    """A confirmed order of 2 tấn (80,000,000 ₫, payment in full) and its two sides."""
    cooperative = factories.user(factories.organisation("cooperative"), email="htx@example.vn")
    buyer = factories.user(factories.organisation("enterprise"), email="dn@example.vn")
    product = factories.product(cooperative.organisation, unit=Unit.TAN, min_order_qty=1, base_price_vnd=40_000_000)
    order, = orders.place_orders(buyer, orders.OrderRequest.from_mapping(factories.order_request([(product, 2)])))
    orders.confirm(cooperative, order.id)
    return order, buyer, cooperative


def _card_payment(trade):
    order, buyer, _cooperative = trade
    payment = payments.start_payment(buyer, order.id, PaymentMethod.CARD)
    assert payment.stripe_client_secret and payment.stripe_payment_intent_id
    return payment


def _pay_in_browser(payment, card=PAYS):
    """What Stripe.js's confirmCardPayment does: confirm the intent with a card."""
    try:
        return stripe_gateway.confirm_payment_intent(payment.stripe_payment_intent_id, card, f"t-{uuid.uuid4()}")
    except stripe_gateway.GatewayError as error:
        return error


def _event(intent, type_="payment_intent.succeeded", event_id=None, **changes):
    data = {"id": intent.id, "object": "payment_intent", "amount": intent.amount, "currency": intent.currency,
            "status": intent.status, "client_secret": None, "metadata": intent.metadata, **changes}
    return {"id": event_id or f"evt_{uuid.uuid4().hex}", "object": "event", "type": type_,
            "created": int(time.time()), "data": {"object": data}}


def _signed(body, timestamp=None, secret=SECRET):
    timestamp = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def _deliver(client, event, **sign):
    body = json.dumps(event).encode()
    return client.post("/payments/stripe/webhook", data=body, content_type="application/json",
                       headers={"Stripe-Signature": _signed(body, **sign)})


def _intent(payment):
    return stripe_gateway.retrieve_payment_intent(payment.stripe_payment_intent_id)


def test_the_card_payment_is_the_amount_due_in_whole_dong(trade):
    payment = _card_payment(trade)
    intent = _intent(payment)
    assert (intent.amount, intent.currency) == (80_000_000, "vnd")
    assert trade[0].status == OrderStatus.AWAITING_PAYMENT
    again = payments.start_payment(trade[1], trade[0].id, PaymentMethod.CARD)
    assert again.id == payment.id  # a second click does not open a second intent


def test_the_browser_return_marks_the_order_paid(trade):
    payment = _card_payment(trade)
    assert _pay_in_browser(payment).status == "succeeded"
    payments.refresh_card_payment(trade[1], payment.id)
    order = trade[0]
    db.session.refresh(order)
    assert order.status == OrderStatus.PAID and order.paid_vnd == 80_000_000


def test_the_webhook_marks_paid_once_whatever_comes_first(trade, client):
    payment = _card_payment(trade)
    _pay_in_browser(payment)
    event = _event(_intent(payment))
    assert _deliver(client, event).get_json()["outcome"] == "processed"
    assert _deliver(client, event).get_json()["outcome"] == "duplicate"
    payments.refresh_card_payment(trade[1], payment.id)  # the browser's return arrives last
    order = trade[0]
    db.session.refresh(order)
    assert order.paid_vnd == 80_000_000
    assert [e.kind for e in order.events].count(OrderEventKind.PAID) == 1


def test_two_deliveries_of_one_event_at_once_are_processed_once(trade, app):
    payment = _card_payment(trade)
    _pay_in_browser(payment)
    event = _event(_intent(payment))
    barrier, answers = threading.Barrier(2), []

    def deliver():
        client = app.test_client()
        barrier.wait()
        answers.append(_deliver(client, event).get_json()["outcome"])

    threads = [threading.Thread(target=deliver) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(answers) == ["duplicate", "processed"]
    db.session.expire_all()
    assert db.session.get(Payment, payment.id).status == PaymentStatus.SUCCEEDED
    assert trade[0].paid_vnd == 80_000_000


def test_a_failure_reported_after_the_success_never_downgrades(trade, client):
    payment = _card_payment(trade)
    _pay_in_browser(payment)
    paid = _intent(payment)
    _deliver(client, _event(paid))
    late_failure = _event(paid, "payment_intent.payment_failed", status="requires_payment_method",
                          last_payment_error={"code": "card_declined"})
    assert _deliver(client, late_failure).status_code == 200
    db.session.expire_all()
    assert trade[0].status == OrderStatus.PAID
    assert db.session.get(Payment, payment.id).status == PaymentStatus.SUCCEEDED


def test_a_declined_card_lets_the_buyer_try_again(trade, client):
    payment = _card_payment(trade)
    declined = _pay_in_browser(payment, DECLINED)
    assert isinstance(declined, stripe_gateway.GatewayError)
    _deliver(client, _event(_intent(payment), "payment_intent.payment_failed"))
    db.session.expire_all()
    assert db.session.get(Payment, payment.id).status == PaymentStatus.FAILED
    assert trade[0].status == OrderStatus.CONFIRMED  # waiting for a new payment
    retry = payments.start_payment(trade[1], trade[0].id, PaymentMethod.CARD)
    assert retry.id != payment.id


@pytest.mark.parametrize("changes", [{"amount": 1}, {"currency": "usd"}])
def test_an_amount_or_currency_that_is_not_the_payments_is_not_paid(trade, client, changes):
    payment = _card_payment(trade)
    _pay_in_browser(payment)
    assert _deliver(client, _event(_intent(payment), **changes)).status_code == 200
    db.session.expire_all()
    assert trade[0].paid_vnd == 0 and trade[0].status == OrderStatus.AWAITING_PAYMENT
    assert OrderEventKind.PAYMENT_MISMATCH in [e.kind for e in trade[0].events]


def test_forged_and_replayed_signatures_are_refused(trade, client):
    payment = _card_payment(trade)
    _pay_in_browser(payment)
    event = _event(_intent(payment))
    assert _deliver(client, event, secret="whsec_forged").status_code == 400
    assert _deliver(client, event, timestamp=int(time.time()) - 301).status_code == 400
    body = json.dumps(event).encode()
    tampered = client.post("/payments/stripe/webhook", data=body.replace(b"80000000", b"80000001"),
                           headers={"Stripe-Signature": _signed(body)}, content_type="application/json")
    assert tampered.status_code == 400
    assert db.session.query(StripeEvent).count() == 0
    assert trade[0].paid_vnd == 0


def test_a_webhook_without_a_configured_secret_is_left_for_stripe_to_retry(make_app, localstripe):
    app = make_app(STRIPE_WEBHOOK_SECRET=None)
    response = app.test_client().post("/payments/stripe/webhook", data=b"{}", headers={"Stripe-Signature": "t=1,v1=0"})
    assert response.status_code == 503


def test_cancelling_a_card_paid_order_refunds_it_through_stripe(trade, outbox):
    order, buyer, cooperative = trade
    payment = _card_payment(trade)
    _pay_in_browser(payment)
    payments.refresh_card_payment(buyer, payment.id)
    orders.cancel(cooperative, order.id, "Mất mùa do lũ")
    db.session.expire_all()
    refunded = db.session.get(Payment, payment.id)
    assert refunded.status == PaymentStatus.REFUNDED
    assert refunded.order.refunded_vnd == 80_000_000
    kinds = [e.kind for e in refunded.order.events]
    assert kinds[-2:] == [OrderEventKind.REFUND_STARTED, OrderEventKind.REFUNDED]
    assert _intent(payment).status == "succeeded"  # localstripe keeps the intent; the refund is its own object


def test_without_stripe_keys_cards_are_not_offered(make_app):
    app = make_app(STRIPE_SECRET_KEY=None, STRIPE_PUBLISHABLE_KEY=None)
    with app.app_context():
        cooperative = factories.user(factories.organisation("cooperative"))
        buyer = factories.user(factories.organisation("enterprise"))
        product = factories.product(cooperative.organisation)
        order, = orders.place_orders(buyer, orders.OrderRequest.from_mapping(factories.order_request([(product, 10)])))
        orders.confirm(cooperative, order.id)
        assert payments.methods_for(order) == []
        with pytest.raises(payments.PaymentNotPossible):
            payments.start_payment(buyer, order.id, PaymentMethod.CARD)
        db.session.remove()
