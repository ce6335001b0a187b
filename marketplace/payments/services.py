"""Use cases of payments: the cooperative's payment terms and bank account, starting the payment that is
due (card through Stripe, or bank transfer with a VietQR code), marking it paid, and refunds.

"Mark paid" is one idempotent step (`_settle`) that every path runs: the browser's return from Stripe.js,
the webhook, and the cooperative confirming a transfer. It changes a payment only by a conditional UPDATE
from the statuses it may leave, so two paths arriving at once (or a repeated webhook) pay an order once,
and a failure reported after a success never downgrades it.

Who may do what: the buyer's members start payments; the cooperative's members confirm transfers and set
the terms; anyone else gets NotFound for every order and payment.
"""
import secrets
import string
from dataclasses import dataclass

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from marketplace import notifications, textinput
from marketplace.accounts import events as organisation_events
from marketplace.accounts import services as accounts
from marketplace.accounts.authz import Permission, require
from marketplace.accounts.models import label
from marketplace.errors import Conflict, NotFound, ValidationFailed
from marketplace.extensions import db
from marketplace.jobs import outbox
from marketplace.orders import services as orders
from marketplace.orders.models import Order, OrderEventKind, OrderStatus, PaymentMode
from marketplace.payments import stripe_gateway, vietqr
from marketplace.payments.models import (
    Payment,
    PaymentMethod,
    PaymentPurpose,
    PaymentSettings,
    PaymentStatus,
)
from marketplace.sqltypes import utcnow
from marketplace.unit_of_work import unit_of_work

MIN_DEPOSIT_PERCENT = 1
MAX_DEPOSIT_PERCENT = 99
REFERENCE_ALPHABET = string.ascii_uppercase + string.digits
# Statuses from which the money arriving marks a payment received (a payment replaced or cancelled meanwhile
# still received real money: it is recorded, and refunded when its order is cancelled).
SETTLEABLE = (PaymentStatus.PENDING, PaymentStatus.FAILED, PaymentStatus.CANCELLED)


class PaymentNotPossible(Conflict):
    code = "payment_not_possible"


class CardsUnavailable(Conflict):
    code = "cards_unavailable"


# ---------------------------------------------------------------- the cooperative's terms

@dataclass
class SettingsDetails:
    mode: object = PaymentMode.FULL.value
    deposit_percent: object = None
    bank_bin: object = ""
    account_number: object = ""
    account_name: object = ""


def settings_of(organisation_id):
    """The cooperative's payment settings (defaults, unsaved, when it set none)."""
    return db.session.get(PaymentSettings, organisation_id) or PaymentSettings(
        organisation_id=organisation_id, mode=PaymentMode.FULL, deposit_percent=30, bank_bin="", account_number="",
        account_name="")


def save_settings(actor, details, password=None, client=None):
    """Set the cooperative's payment terms and bank account (new orders take them; placed orders keep theirs).

    Adding, changing or removing the bank account moves where buyers' money goes, so it needs the actor's
    password again (ASVS 3.7.1), checked under the login throttle before the unit of work opens (as signing
    an MoU does; `client`: the request's address and trusted-browser cookie), and every owner of the
    organisation, and the actor, is emailed about it (ASVS 2.2.3).
    Raises Forbidden (not a verified cooperative's member), ValidationFailed (bad input; the password
    missing or wrong when the account changes) and throttle.TooManyAttempts (429).
    """
    require(actor, Permission.FULFIL_ORDERS)
    terms = _checked_terms(details)
    current = settings_of(actor.organisation_id)
    account_changes = (terms.bank_bin, terms.account_number, terms.account_name) != (
        current.bank_bin or "", current.account_number or "", current.account_name or "")
    if account_changes:
        if not password:
            raise ValidationFailed.for_fields({"password": _l("Enter your password to change the bank account.")})
        if not accounts.check_password(actor, password, client):
            raise ValidationFailed.for_fields({"password": _l("The password is wrong.")})
    with unit_of_work():
        return _store_settings(actor, terms, account_changes)


def _checked_terms(details):
    """The settings as they will be stored (clean text, an enum): raises ValidationFailed per field."""
    errors = {}
    try:
        mode = PaymentMode(details.mode)
    except ValueError:
        errors["mode"] = _l("Choose one of the listed values.")
        mode = PaymentMode.FULL
    percent = orders._whole(details.deposit_percent, MIN_DEPOSIT_PERCENT, MAX_DEPOSIT_PERCENT)
    if mode == PaymentMode.DEPOSIT and percent is None:
        errors["deposit_percent"] = _l("Give a whole number from %(min)s to %(max)s.",
                                       min=MIN_DEPOSIT_PERCENT, max=MAX_DEPOSIT_PERCENT)
    bank_bin = textinput.clean(str(details.bank_bin or ""))
    account = textinput.clean(str(details.account_number or "")).replace(" ", "")
    name = textinput.clean(str(details.account_name or ""))
    if bank_bin or account:
        if vietqr.bank_name(bank_bin) is None:
            errors["bank_bin"] = _l("Choose your bank.")
        elif not _payable(bank_bin, account):
            errors["account_number"] = _l("Give the account number: 1 to 19 letters or digits.")
        if not textinput.has_letter_or_digit(name) or len(name) > 120:
            errors["account_name"] = _l("Give the account holder's name, as the bank writes it.")
    else:
        name = ""  # no account: no holder either
    if errors:
        raise ValidationFailed.for_fields(errors)
    return SettingsDetails(mode=mode, deposit_percent=percent, bank_bin=bank_bin, account_number=account,
                           account_name=name)


def _store_settings(actor, terms, account_changes):
    require(actor, Permission.FULFIL_ORDERS)  # again, inside the transaction that writes
    settings = db.session.get(PaymentSettings, actor.organisation_id)
    if settings is None:
        settings = PaymentSettings(organisation_id=actor.organisation_id)
        db.session.add(settings)
    old_account = _masked_account(settings.bank_bin, settings.account_number)
    settings.mode = terms.mode
    if terms.mode == PaymentMode.DEPOSIT:
        settings.deposit_percent = terms.deposit_percent
    else:
        settings.deposit_percent = settings.deposit_percent or 30
    settings.bank_bin, settings.account_number = terms.bank_bin, terms.account_number
    settings.account_name = terms.account_name
    new_account = _masked_account(terms.bank_bin, terms.account_number)
    mode_text = terms.mode.value
    if terms.mode == PaymentMode.DEPOSIT:
        mode_text += f" {settings.deposit_percent}%"
    organisation_events.payment_settings_changed(actor.organisation, actor, f"{mode_text} · {new_account or '-'}")
    if account_changes:
        _tell_bank_account_changed(actor, old_account, new_account, terms.account_name)
    return settings


def _masked_account(bank_bin, account_number):
    """"Vietcombank …6789": the bank and the account's last four characters, or "" for no account."""
    if not account_number:
        return ""
    return f"{vietqr.bank_name(bank_bin) or bank_bin} …{account_number[-4:]}"


def _tell_bank_account_changed(actor, old_account, new_account, holder):
    """Email every active owner of the organisation, and the actor, that the bank account changed."""
    recipients = {member.email: member for member in actor.organisation.members
                  if member.is_active and member.is_owner}
    recipients.setdefault(actor.email, actor)
    for user in recipients.values():
        notifications.send(user.email, _l("The bank account of %(name)s on Chợ HTX was changed",
                                          name=actor.organisation.legal_name),
                           "bank_account_changed", user.locale, user=user, actor=actor,
                           organisation=actor.organisation, old_account=old_account, new_account=new_account,
                           holder=holder, link=notifications.link("payments.settings"))


def _payable(bank_bin, account):
    """Whether a VietQR code can be made for this account (vietqr.py holds the rule)."""
    try:
        vietqr.payload(bank_bin, account, None, "")
    except ValueError:
        return False
    return True


# ---------------------------------------------------------------- reading

def get_payment(actor, payment_id):
    """A payment of an order the actor's organisation is a party to. Raises NotFound otherwise."""
    payment = db.session.get(Payment, payment_id) if orders._is_id(payment_id) else None
    if payment is None:
        raise NotFound()
    orders.get_order(actor, payment.order_id)
    return payment


def methods_for(order):
    """The methods the buyer may use for this order now: card when Stripe is configured, bank transfer
    when the cooperative gave its bank account."""
    methods = []
    if stripe_gateway.cards_enabled():
        methods.append(PaymentMethod.CARD)
    if settings_of(order.cooperative_id).accepts_bank_transfer:
        methods.append(PaymentMethod.BANK_TRANSFER)
    return methods


@dataclass
class TransferInstructions:
    payload: str
    reference: str
    bank_name: str
    account_number: str
    account_name: str
    amount_vnd: int


def transfer_instructions(payment):
    """What the buyer needs to pay a bank transfer: the VietQR payload and the same facts as text."""
    settings = settings_of(payment.order.cooperative_id)
    return TransferInstructions(
        payload=vietqr.payload(settings.bank_bin, settings.account_number, payment.amount_vnd, payment.reference),
        reference=payment.reference, bank_name=vietqr.bank_name(settings.bank_bin),
        account_number=settings.account_number, account_name=settings.account_name, amount_vnd=payment.amount_vnd)


# ---------------------------------------------------------------- starting a payment

def start_payment(actor, order_id, method):
    """Start the payment that is due now (deposit, full or balance) by card or bank transfer; a pending
    payment of the same method and amount is returned again instead of a second one.

    For a card, the PaymentIntent is created after the payment row is committed, with an idempotency key
    kept on the row, so a retry never charges twice. Raises NotFound, ValidationFailed (unknown method),
    PaymentNotPossible (nothing due, or the method is not offered), CardsUnavailable (Stripe failed).
    """
    payment = _open_payment(actor, order_id, method)
    if payment.method == PaymentMethod.CARD and payment.stripe_payment_intent_id is None:
        _attach_intent(payment.id)
    return db.session.get(Payment, payment.id)


@unit_of_work()
def _open_payment(actor, order_id, method):
    order = orders.get_order(actor, order_id)
    if order.buyer_id != actor.organisation_id:
        raise orders.InvalidTransition(_l("Only the buyer pays an order."))
    try:
        method = PaymentMethod(method)
    except ValueError:
        raise ValidationFailed.for_fields({"method": _l("Choose card or bank transfer.")}) from None
    amount = order.amount_due_vnd()
    if amount <= 0:
        raise PaymentNotPossible(_l("Nothing is due on this order now."))
    if method not in methods_for(order):
        raise PaymentNotPossible(_l("This payment method is not available for this order."))
    pending = [p for p in order.payments if p.status == PaymentStatus.PENDING]
    for payment in pending:
        if payment.method == method and payment.amount_vnd == amount:
            return payment
    for payment in pending:  # replaced by the new one; if its money still arrives, it is recorded
        _mark(payment, (PaymentStatus.PENDING,), PaymentStatus.FAILED, failure_reason="replaced")
    payment = Payment(order=order, method=method, purpose=purpose_for(order), amount_vnd=amount,
                      reference=new_reference(), started_by=actor)
    db.session.add(payment)
    db.session.flush()  # its id, also when a bigger unit of work (the demo data) holds the commit
    orders.payment_started(order, actor, describe(payment))
    return payment


def purpose_for(order):
    if order.status in (OrderStatus.SHIPPED, OrderStatus.DELIVERED):
        return PaymentPurpose.BALANCE
    return PaymentPurpose.DEPOSIT if order.payment_mode == PaymentMode.DEPOSIT else PaymentPurpose.FULL


def new_reference():
    """A transfer message a person can type: HTX and 10 letters or digits, unique."""
    return "HTX" + "".join(secrets.choice(REFERENCE_ALPHABET) for _ in range(10))


def _attach_intent(payment_id):
    payment = db.session.get(Payment, payment_id)
    try:
        intent = stripe_gateway.create_payment_intent(
            payment.amount_vnd, payment.reference, idempotency_key=f"chohtx-{payment.reference}",
            metadata={"payment_reference": payment.reference, "order_reference": payment.order.reference})
    except stripe_gateway.GatewayError as error:
        raise CardsUnavailable(_l("Card payments are not available right now. Try again, or pay by bank "
                                  "transfer.")) from error
    with unit_of_work():
        db.session.execute(sa.update(Payment)
                           .where(Payment.id == payment_id, Payment.stripe_payment_intent_id.is_(None))
                           .values(stripe_payment_intent_id=intent.id, stripe_client_secret=intent.client_secret))
    db.session.expire(payment)


# ---------------------------------------------------------------- money arriving

@unit_of_work()
def confirm_transfer(actor, payment_id, amount_vnd):
    """The cooperative confirms that a bank transfer arrived, with the amount received (at most what is
    still unpaid on the order). Raises NotFound, Forbidden, ValidationFailed, PaymentNotPossible."""
    payment = get_payment(actor, payment_id)
    order = payment.order
    if order.cooperative_id != actor.organisation_id or payment.method != PaymentMethod.BANK_TRANSFER:
        raise NotFound()
    require(actor, Permission.FULFIL_ORDERS)
    # The state first: a repeated confirmation is "already recorded" (409), not a bad amount (422).
    if payment.status not in SETTLEABLE or order.status in (OrderStatus.CANCELLED, OrderStatus.REJECTED):
        raise PaymentNotPossible(_l("This payment is already recorded, or its order was cancelled."))
    amount = orders._whole(amount_vnd, 1, max(order.balance_vnd, 1))
    if amount is None:
        raise ValidationFailed.for_fields({"amount_vnd": _l(
            "Give the amount received in đồng, from 1 to %(max)s.", max=order.balance_vnd)})
    _settle(payment, amount, actor, confirmed_by=actor)
    return payment


def refresh_card_payment(actor, payment_id):
    """The browser came back from Stripe.js: ask Stripe how the payment stands and apply it (the same
    idempotent step as the webhook). Raises NotFound; a Stripe failure leaves the payment as it was."""
    payment = get_payment(actor, payment_id)
    if payment.method != PaymentMethod.CARD or payment.stripe_payment_intent_id is None:
        return payment
    try:
        intent = stripe_gateway.retrieve_payment_intent(payment.stripe_payment_intent_id)
    except stripe_gateway.GatewayError:
        return payment
    apply_intent(intent)
    return db.session.get(Payment, payment_id)


@unit_of_work()
def apply_intent(intent):
    """Bring our payment in line with a Stripe PaymentIntent (from the webhook or a retrieve): succeeded
    marks it received if the amount and currency are the payment's; a failure marks a pending one failed.
    Unknown intents are ignored. Returns the payment or None."""
    payment = db.session.scalar(sa.select(Payment).filter_by(stripe_payment_intent_id=intent.id))
    if payment is None:
        return None
    if intent.status == "succeeded":
        if intent.currency != "vnd" or intent.amount != payment.amount_vnd:
            if payment.status in SETTLEABLE:
                orders.record_mismatch(payment.order, f"{payment.reference}: {intent.amount} {intent.currency}")
            return payment
        _settle(payment, payment.amount_vnd, None)
    elif intent.status in ("requires_payment_method", "canceled"):
        reason = intent.last_payment_error or intent.status
        if _mark(payment, (PaymentStatus.PENDING,), PaymentStatus.FAILED, failure_reason=reason):
            still = any(p.status == PaymentStatus.PENDING for p in payment.order.payments if p.id != payment.id)
            orders.payment_failed(payment.order, still, f"{payment.reference}: {reason}")
    return payment


def _settle(payment, amount, actor, confirmed_by=None):
    """Mark the payment received, once (a conditional UPDATE: concurrent paths settle it once)."""
    if not _mark(payment, SETTLEABLE, PaymentStatus.SUCCEEDED, paid_at=utcnow(), amount_vnd=amount,
                 confirmed_by_id=confirmed_by.id if confirmed_by else None):
        return False
    order = db.session.get(Order, payment.order_id, with_for_update=True, populate_existing=True)
    if order.status in (OrderStatus.CANCELLED, OrderStatus.REJECTED):
        # Money for an order that no longer stands: record it and give it back.
        order.paid_vnd += amount
        _refund(payment)
        return True
    orders.payment_arrived(order, amount, actor, describe(payment), label(payment.method))
    return True


def _mark(payment, from_statuses, status, **values):
    """Move the payment to `status` if it is in one of `from_statuses`; True when this call moved it."""
    moved = db.session.execute(
        sa.update(Payment).where(Payment.id == payment.id, Payment.status.in_(from_statuses))
        .values(status=status, **values).execution_options(synchronize_session=False)).rowcount == 1
    db.session.refresh(payment)
    return moved


# ---------------------------------------------------------------- cancellation and refunds

def settle_cancelled_order(order):
    """Called by orders.cancel: pending payments are cancelled, received ones paid back (card: refunded
    through Stripe by the outbox; bank transfer: marked for the cooperative to pay back by hand)."""
    for payment in list(order.payments):
        if payment.status == PaymentStatus.PENDING:
            _mark(payment, (PaymentStatus.PENDING,), PaymentStatus.CANCELLED)
        elif payment.status == PaymentStatus.SUCCEEDED:
            _refund(payment)


def _refund(payment):
    if payment.method == PaymentMethod.CARD:
        _mark(payment, (PaymentStatus.SUCCEEDED,), PaymentStatus.REFUNDING)
        outbox.add("stripe_refund", {"payment_id": payment.id})
        orders.record_refund(payment.order, OrderEventKind.REFUND_STARTED, payment.amount_vnd, describe(payment))
    else:
        _mark(payment, (PaymentStatus.SUCCEEDED,), PaymentStatus.REFUND_DUE)
        orders.record_refund(payment.order, OrderEventKind.REFUND_DUE, payment.amount_vnd, describe(payment))


@outbox.register("stripe_refund")
def _refund_card_payment(payload):
    """Ask Stripe to refund a card payment (idempotent key per payment), then record it. Runs after the
    cancellation committed, in a session of its own (the outbox may run inside the committing session's
    after-commit hook). Raises GatewayError so that the outbox retries."""
    with sa.orm.Session(db.engine) as session:
        payment = session.get(Payment, payload["payment_id"])
        if payment is None or payment.status != PaymentStatus.REFUNDING:
            return
        stripe_gateway.refund(payment.stripe_payment_intent_id, payment.amount_vnd,
                              idempotency_key=f"chohtx-refund-{payment.reference}")
        payment.status = PaymentStatus.REFUNDED
        orders.record_refund(payment.order, OrderEventKind.REFUNDED, payment.amount_vnd, describe(payment))
        session.commit()


def describe(payment):
    """A language-neutral note for the order's timeline (the page shows method and purpose beside it)."""
    return f"{payment.reference} · {payment.method.value} · {payment.purpose.value} · {payment.amount_vnd} VND"

