"""Stripe, for card payments: the only module that imports stripe (tests/payments/test_boundaries.py).

Callers get plain values (Intent, Event, a refund id) and two exceptions (GatewayError, InvalidWebhook),
never stripe objects, so the rest of the app does not depend on the library's types.

Settings (current_app.config): STRIPE_SECRET_KEY and STRIPE_PUBLISHABLE_KEY (cards are offered only when both
are set), STRIPE_WEBHOOK_SECRET (webhook signatures), STRIPE_API_BASE (a local test server such as
`python -m marketplace.payments.fake_stripe`; None is the real Stripe) and STRIPE_JS_URL (where pages load
Stripe.js from). Amounts are whole đồng: VND is a zero-decimal currency, 1,500,000 ₫ is amount=1500000.

Every call that creates something carries the caller's idempotency key: a retry with the same key (after a
timeout, a crash, a repeated job) gets the first answer back instead of paying or refunding twice. The key
should name the operation once and for all, e.g. f"order-{order.id}-payment-{attempt}".

stripe is imported when first needed, not with this module: the app starts without loading it.
"""
import contextlib
import dataclasses
import ipaddress
import json
import re
import threading
import urllib.parse
from datetime import UTC, datetime

from flask import current_app

CURRENCY = "vnd"
WEBHOOK_TOLERANCE_SECONDS = 300  # stripe.Webhook.DEFAULT_TOLERANCE: a signed event older than this is refused
TIMEOUT_SECONDS = (5, 30)  # connect, read: a web request waits at most this long for Stripe
NETWORK_RETRIES = 2  # the library retries connection failures, 409s and 5xx answers with the same idempotency key

_STRIPE_ID = re.compile(r"[a-z]+_[A-Za-z0-9_]+")
_clients = {}
_clients_lock = threading.Lock()


class GatewayError(Exception):
    """A Stripe call failed.

    code: Stripe's error code when it gave one ("card_declined", "amount_too_small", ...), else one of
    "network" (Stripe could not be reached), "rate_limited", "stripe_unavailable" (a 5xx answer),
    "idempotency_conflict" (the key was used with other parameters), "authentication" (a bad key),
    "not_configured" (keys missing) or "stripe_error". decline_code: the card issuer's reason, for declines.
    retryable: trying again later, with the same idempotency key, may succeed.
    The message is the library's, in English, for logs: pages should say something of their own by code.
    """

    def __init__(self, message, *, code, retryable=False, decline_code=None, http_status=None):
        super().__init__(message)
        self.code = code
        self.retryable = retryable
        self.decline_code = decline_code
        self.http_status = http_status


class InvalidWebhook(Exception):
    """A webhook request whose signature, timestamp or body is not valid: answer 400 and do nothing."""


@dataclasses.dataclass(frozen=True)
class Intent:
    """A PaymentIntent as plain values."""

    id: str  # "pi_..."
    status: str  # Stripe's: requires_payment_method, requires_confirmation, requires_action, processing,
    #              requires_capture, canceled, succeeded
    amount: int  # whole đồng
    currency: str  # "vnd"
    client_secret: str | None  # what the payment page hands to Stripe.js; never log it
    metadata: dict[str, str]  # what create_payment_intent was given, "reference" included
    last_payment_error: str | None = None  # the code of the last failed attempt ("card_declined"), if any


@dataclasses.dataclass(frozen=True)
class Event:
    """A verified webhook event as plain values."""

    id: str  # "evt_...": unique, so a repeated delivery can be recognised
    type: str  # "payment_intent.succeeded", "payment_intent.payment_failed", "charge.refunded", ...
    created: datetime  # when Stripe created the event (UTC)
    object: dict  # the event's data.object (a PaymentIntent, a Refund...) as parsed JSON


def cards_enabled():
    """True when both Stripe keys are set, so card payments can be offered."""
    config = current_app.config
    return bool(config.get("STRIPE_SECRET_KEY") and config.get("STRIPE_PUBLISHABLE_KEY"))


def create_payment_intent(amount_vnd, reference, idempotency_key, metadata=None):
    """A new PaymentIntent for `amount_vnd` đồng, paid by card; the payment page confirms it with Stripe.js.

    reference (e.g. the order number) is stored in the intent's metadata as "reference", beside `metadata`
    (values are turned into text). Raises ValueError for an amount that is not a positive whole number of đồng,
    GatewayError when Stripe refuses or cannot be reached.
    """
    _check_amount(amount_vnd)
    _check_key(idempotency_key)
    params = {
        "amount": amount_vnd,  # zero-decimal currency: đồng, never × 100
        "currency": CURRENCY,
        "payment_method_types": ["card"],
        "metadata": {**{str(k): str(v) for k, v in (metadata or {}).items()}, "reference": str(reference)},
    }
    with _calling():
        intent = _client().v1.payment_intents.create(params, {"idempotency_key": idempotency_key})
    return _intent(intent)


def retrieve_payment_intent(payment_intent_id):
    """The PaymentIntent as it is now at Stripe. Raises GatewayError (code "resource_missing" if there is none)."""
    _check_id(payment_intent_id)
    with _calling():
        intent = _client().v1.payment_intents.retrieve(payment_intent_id)
    return _intent(intent)


def confirm_payment_intent(payment_intent_id, payment_method, idempotency_key):
    """Pay an intent server-side with a payment method id (a saved card; in tests and demos a test card such as
    "pm_card_visa"); pages confirm with Stripe.js instead. Done as Stripe's update-then-confirm, which the
    fake server also understands. Returns the intent (status "succeeded", or "requires_action" when the card
    needs 3-D Secure); raises GatewayError with code "card_declined" when the card is refused.
    """
    _check_id(payment_intent_id)
    _check_id(payment_method)
    _check_key(idempotency_key)
    with _calling():
        client = _client()
        client.v1.payment_intents.update(payment_intent_id, {"payment_method": payment_method},
                                         {"idempotency_key": f"{idempotency_key}:payment-method"})
        intent = client.v1.payment_intents.confirm(payment_intent_id, None,
                                                   {"idempotency_key": f"{idempotency_key}:confirm"})
    return _intent(intent)


def refund(payment_intent_id, amount_vnd, idempotency_key):
    """Refund `amount_vnd` đồng of a paid intent; returns the refund's id ("re_..."). Raises ValueError for a bad
    amount, GatewayError when Stripe refuses (e.g. the payment failed, or more than was paid) or cannot be reached.
    """
    _check_id(payment_intent_id)
    _check_amount(amount_vnd)
    _check_key(idempotency_key)
    with _calling():
        created = _client().v1.refunds.create({"payment_intent": payment_intent_id, "amount": amount_vnd},
                                              {"idempotency_key": idempotency_key})
    return created.id


def parse_webhook(raw_body, signature_header):
    """The event in a webhook request, after checking its Stripe-Signature header against STRIPE_WEBHOOK_SECRET.

    raw_body must be the request's bytes exactly as received (request.get_data()), not re-encoded JSON.
    Raises InvalidWebhook when the signature is missing or wrong, older than WEBHOOK_TOLERANCE_SECONDS
    (a replay), or the body is not a Stripe event; GatewayError (code "not_configured") when there is no
    secret, so that Stripe keeps retrying until one is set rather than the events being dropped.
    """
    stripe = _stripe()
    secret = current_app.config.get("STRIPE_WEBHOOK_SECRET")
    if not secret:
        raise GatewayError("STRIPE_WEBHOOK_SECRET is not set", code="not_configured")
    try:
        # What stripe.Webhook.construct_event does, without building a stripe object from the JSON.
        stripe.WebhookSignature.verify_header(raw_body, signature_header, secret, WEBHOOK_TOLERANCE_SECONDS)
        data = json.loads(raw_body)
    except stripe.SignatureVerificationError as error:
        raise InvalidWebhook(str(error)) from None
    except ValueError as error:  # not UTF-8, not JSON
        raise InvalidWebhook(f"the body is not JSON: {error}") from None
    try:
        event = Event(id=data["id"], type=data["type"], created=datetime.fromtimestamp(data["created"], UTC),
                      object=data["data"]["object"])
    except (KeyError, TypeError, ValueError, OverflowError, OSError):
        raise InvalidWebhook("the body is not a Stripe event") from None
    if not (isinstance(event.id, str) and event.id and isinstance(event.type, str) and event.type
            and type(data["created"]) is int and isinstance(event.object, dict)):
        raise InvalidWebhook("the body is not a Stripe event")
    return event


# ------------------------------------------------------------------------------------------------ helpers


def _stripe():
    import stripe

    return stripe


def _check_amount(amount_vnd):
    if isinstance(amount_vnd, bool) or not isinstance(amount_vnd, int) or amount_vnd <= 0:
        raise ValueError(f"amount must be a positive whole number of đồng, not {amount_vnd!r}")


def _check_id(stripe_id):
    # An empty id would turn GET /v1/payment_intents/<id> into the list of all intents.
    if not isinstance(stripe_id, str) or not _STRIPE_ID.fullmatch(stripe_id):
        raise ValueError(f"not a Stripe id: {stripe_id!r}")


def _check_key(idempotency_key):
    if not isinstance(idempotency_key, str) or not 0 < len(idempotency_key) <= 200:
        raise ValueError("an idempotency key (1 to 200 characters) is required")


def _client():
    """The StripeClient for the configured key and server (one per pair, shared by the threads)."""
    config = current_app.config
    key, base = config.get("STRIPE_SECRET_KEY"), config.get("STRIPE_API_BASE")
    if not key:
        raise GatewayError("STRIPE_SECRET_KEY is not set", code="not_configured")
    if base and not _safe_base(base):
        raise GatewayError("STRIPE_API_BASE must be https://, or http:// on this machine", code="not_configured")
    with _clients_lock:
        client = _clients.get((key, base))
        if client is None:
            stripe = _stripe()
            client = stripe.StripeClient(
                key,
                base_addresses={"api": base.rstrip("/")} if base else None,
                http_client=stripe.RequestsClient(timeout=TIMEOUT_SECONDS),
                max_network_retries=NETWORK_RETRIES,
            )
            _clients[(key, base)] = client
    return client


def _safe_base(base):
    """A secret key may travel over https, or over plain http only to this machine (the fake server)."""
    url = urllib.parse.urlsplit(base)
    if url.scheme == "https" and url.hostname:
        return True
    if url.scheme != "http" or not url.hostname:
        return False
    if url.hostname == "localhost":
        return True
    try:
        return ipaddress.ip_address(url.hostname).is_loopback
    except ValueError:
        return False


@contextlib.contextmanager
def _calling():
    """Turns the library's errors into GatewayError."""
    stripe = _stripe()
    try:
        yield
    except stripe.StripeError as error:
        raise _gateway_error(stripe, error) from error


def _gateway_error(stripe, error):
    status = error.http_status
    message = error.user_message or str(error) or type(error).__name__
    if isinstance(error, stripe.CardError):
        decline = getattr(error.error, "decline_code", None) if error.error else None
        return GatewayError(message, code=error.code or "card_declined", decline_code=decline, http_status=status)
    if isinstance(error, stripe.APIConnectionError):
        return GatewayError(message, code="network", retryable=True)
    if isinstance(error, stripe.RateLimitError):
        return GatewayError(message, code="rate_limited", retryable=True, http_status=status)
    if isinstance(error, stripe.IdempotencyError):
        return GatewayError(message, code="idempotency_conflict", http_status=status)
    if isinstance(error, stripe.AuthenticationError | stripe.PermissionError):
        return GatewayError(message, code="authentication", http_status=status)
    if isinstance(error, stripe.APIError) or (status or 0) >= 500:
        return GatewayError(message, code="stripe_unavailable", retryable=True, http_status=status)
    code = error.code or ("resource_missing" if status == 404 else "stripe_error")
    return GatewayError(message, code=code, http_status=status)


def _intent(intent):
    return _intent_from_dict(intent.to_dict())


def _intent_from_dict(data):
    error = data.get("last_payment_error") or {}
    return Intent(
        id=data["id"],
        status=data["status"],
        amount=int(data["amount"]),
        currency=data["currency"],
        client_secret=data.get("client_secret"),
        metadata={str(k): str(v) for k, v in (data.get("metadata") or {}).items()},
        last_payment_error=error.get("code") if isinstance(error, dict) else None,
    )


def intent_from_event(event):
    """The PaymentIntent a payment_intent.* event carries, as plain values. Raises InvalidWebhook when the
    event's object is not a PaymentIntent."""
    data = event.object
    if data.get("object") != "payment_intent" or not isinstance(data.get("id"), str):
        raise InvalidWebhook("the event does not carry a PaymentIntent")
    try:
        return _intent_from_dict(data)
    except (KeyError, TypeError, ValueError):
        raise InvalidWebhook("the PaymentIntent in the event is malformed") from None
