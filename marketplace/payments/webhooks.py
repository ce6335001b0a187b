"""Stripe's webhook: `POST /payments/stripe/webhook`.

The signature is checked on the raw body (400 when it fails). Each event id is stored (StripeEvent, its
primary key) in the same unit of work as its effect, so a repeated delivery — also two arriving at once —
is processed once: the second insert fails on the key and is answered 200 as a duplicate. Events are
dispatched through HANDLERS (event type → function); the handlers bring our payment in line with the
PaymentIntent the event carries (payments.services.apply_intent), which copes with events out of order.
"""
import logging

import sqlalchemy as sa
from flask import Blueprint, jsonify, request

from marketplace.extensions import csrf, db, limiter
from marketplace.payments import services, stripe_gateway
from marketplace.payments.models import StripeEvent
from marketplace.unit_of_work import unit_of_work

log = logging.getLogger("marketplace.payments")

blueprint = Blueprint("stripe_webhook", __name__)


def _payment_intent(event):
    services.apply_intent(stripe_gateway.intent_from_event(event))


HANDLERS = {
    "payment_intent.succeeded": _payment_intent,
    "payment_intent.payment_failed": _payment_intent,
    "payment_intent.canceled": _payment_intent,
}


def process(event):
    """Process one verified event once. Returns "processed", "duplicate" or "ignored" (unknown type)."""
    try:
        with unit_of_work():
            db.session.add(StripeEvent(id=event.id, type=event.type))
            db.session.flush()
            handler = HANDLERS.get(event.type)
            if handler is not None:
                handler(event)
    except sa.exc.IntegrityError:
        return "duplicate"
    return "processed" if event.type in HANDLERS else "ignored"


@blueprint.post("/payments/stripe/webhook")
@csrf.exempt
@limiter.exempt
def stripe_webhook():
    """Stripe's event delivery: 400 for a bad signature or body, 200 otherwise (also for duplicates and
    types we do not handle, so that Stripe stops retrying them)."""
    try:
        event = stripe_gateway.parse_webhook(request.get_data(cache=False), request.headers.get("Stripe-Signature", ""))
    except stripe_gateway.InvalidWebhook as error:
        log.warning("stripe webhook refused: %s", error)
        return jsonify({"error": {"code": "invalid_signature", "message": "Invalid Stripe signature."}}), 400
    except stripe_gateway.GatewayError:  # no STRIPE_WEBHOOK_SECRET: Stripe keeps the event and retries
        log.error("stripe webhook: STRIPE_WEBHOOK_SECRET is not set; the event is left for Stripe to retry")
        return jsonify({"error": {"code": "not_configured", "message": "Webhooks are not configured."}}), 503
    try:
        outcome = process(event)
    except stripe_gateway.InvalidWebhook as error:  # signed by Stripe, but not the object its type promises
        log.warning("stripe webhook %s ignored: %s", event.id, error)
        return jsonify({"error": {"code": "invalid_event", "message": str(error)}}), 400
    return jsonify({"received": True, "outcome": outcome})
