"""Pages of payments ("payments" blueprint): starting the payment due on an order, the bank transfer page
(VietQR code and the same facts as text) or the card page (Stripe.js), the return from Stripe.js, the
cooperative's confirmation of a transfer it received, and the cooperative's payment settings.

Each view calls one service (payments/services.py decides who may do what); a payment of an order the user's
organisation is no party to, or of another order than the one in the path, answers 404.
"""
import re
from urllib.parse import urlsplit

from flask import Blueprint, current_app, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from markupsafe import Markup

from marketplace import web
from marketplace.accounts import throttle
from marketplace.accounts.authz import Permission, require
from marketplace.accounts.models import label
from marketplace.errors import DomainError, NotFound, ValidationFailed
from marketplace.forms import apply_service_errors
from marketplace.i18n import vnd
from marketplace.orders import services as orders
from marketplace.orders import views as order_views
from marketplace.orders.models import PaymentMode
from marketplace.payments import services, vietqr
from marketplace.payments.forms import PaymentSettingsForm, TransferForm
from marketplace.payments.models import PaymentMethod, PaymentStatus

blueprint = Blueprint("payments", __name__)

PAYMENT = "/orders/<id:order_id>/payments/<id:payment_id>"
# Where Stripe.js is loaded from when STRIPE_JS_URL is not configured (payments/stripe_gateway.py's default).
DEFAULT_STRIPE_JS_URL = "https://js.stripe.com/v3/"
REAL_STRIPE_JS = "https://js.stripe.com"
GROUPED_DIGITS = re.compile(r"[0-9]{1,3}(?:[. ,][0-9]{3})+")


def _message(error):
    """A refused step's words: the per-field messages of a ValidationFailed, else its message."""
    messages = [str(message) for message in getattr(error, "errors", {}).values()]
    return " ".join(messages) or str(error.message)


def _payment(order_id, payment_id):
    """A payment of this order, of which the user's organisation is a party (NotFound otherwise)."""
    payment = services.get_payment(current_user, payment_id)
    if payment.order_id != order_id:
        raise NotFound()
    return payment


@blueprint.post("/orders/<id:order_id>/payments")
@login_required
def start(order_id):
    """The buyer starts the payment due now, by the method chosen (card or bank transfer)."""
    try:
        payment = services.start_payment(current_user, order_id, request.form.get("method", ""))
    except NotFound:
        raise
    except DomainError as error:
        flash(_message(error), "danger")
        return redirect(url_for("orders.detail", order_id=order_id, _anchor="pay"))
    return redirect(url_for("payments.payment", order_id=order_id, payment_id=payment.id))


@blueprint.get(PAYMENT)
@login_required
def payment(order_id, payment_id):
    """How to pay: a bank transfer's VietQR code and facts, or the card form (to the buyer only)."""
    payment = _payment(order_id, payment_id)
    order = payment.order
    is_buyer = order.buyer_id == current_user.organisation_id
    context = {"payment": payment, "order": order, "is_buyer": is_buyer}
    if payment.method == PaymentMethod.BANK_TRANSFER:
        instructions = services.transfer_instructions(payment)
        title = _("VietQR code: transfer of %(amount)s to %(bank)s", amount=vnd(instructions.amount_vnd),
                  bank=instructions.bank_name)
        # The one unescaped output of the site (tests/test_security.py allows it here alone): an SVG that
        # segno draws from our own payload, with its title escaped by segno.
        qr = Markup(vietqr.qr_svg(instructions.payload, title=title, scale=5))
        context.update(instructions=instructions, qr=qr)
        return render_template("payments/transfer.html", **context)
    card_form = is_buyer and payment.status == PaymentStatus.PENDING and bool(payment.stripe_client_secret)
    if card_form:
        _allow_stripe_on_this_page()
    return render_template("payments/card.html", card_form=card_form, stripe_js_url=_stripe_js_url(),
                           publishable_key=current_app.config.get("STRIPE_PUBLISHABLE_KEY") or "", **context)


def _stripe_js_url():
    return current_app.config.get("STRIPE_JS_URL") or DEFAULT_STRIPE_JS_URL


def _allow_stripe_on_this_page():
    """The card page's CSP: Stripe.js (already allowed everywhere), its API and its card and 3-D Secure frames;
    a local fake Stripe (`make run STRIPE_DEMO=1`) serves all three from its own origin."""
    parts = urlsplit(_stripe_js_url())
    origin = f"{parts.scheme}://{parts.netloc}"
    if origin == REAL_STRIPE_JS:
        web.allow_on_this_page("connect-src", "https://api.stripe.com")
        web.allow_on_this_page("frame-src", "https://hooks.stripe.com")
    else:
        for directive in ("script-src", "connect-src", "frame-src"):
            web.allow_on_this_page(directive, origin)


RETURN_MESSAGES = {
    PaymentStatus.SUCCEEDED: (_l("The card payment is received. Thank you."), "success"),
    PaymentStatus.PENDING: (_l("The card payment is still being processed: this page shows it once Stripe "
                               "confirms it."), "info"),
    PaymentStatus.FAILED: (_l("The card payment did not go through. You can try again, or pay by bank "
                              "transfer."), "danger"),
}


@blueprint.get(f"{PAYMENT}/return")
@login_required
def card_return(order_id, payment_id):
    """Where Stripe.js sends the buyer after confirming the card: ask Stripe how the payment stands."""
    _payment(order_id, payment_id)
    payment = services.refresh_card_payment(current_user, payment_id)
    if payment.method != PaymentMethod.CARD:
        return redirect(url_for("payments.payment", order_id=order_id, payment_id=payment_id))
    message, category = RETURN_MESSAGES.get(payment.status, (label(payment.status), "info"))
    flash(str(message), category)
    return redirect(url_for("orders.detail", order_id=order_id, _anchor="payments"))


@blueprint.post(f"{PAYMENT}/confirm")
@login_required
def confirm_transfer(order_id, payment_id):
    """The cooperative records a bank transfer it received, with the amount."""
    _payment(order_id, payment_id)
    form = TransferForm(prefix=f"transfer-{payment_id}")
    amount = form.amount_vnd.data or ""
    if GROUPED_DIGITS.fullmatch(amount):  # "1.500.000" as people write đồng
        amount = re.sub(r"[. ,]", "", amount)
    try:
        services.confirm_transfer(current_user, payment_id, amount)
    except ValidationFailed as error:
        apply_service_errors(form, error)
        order = orders.get_order(current_user, order_id)
        return order_views.detail_page(order, status=422, forms={f"transfer-{payment_id}": form},
                                       open_form=f"transfer-{payment_id}")
    except NotFound:
        raise
    except DomainError as error:
        flash(_message(error), "danger")
        return redirect(url_for("orders.detail", order_id=order_id, _anchor="payments"))
    flash(_("The transfer is recorded as received. The buyer is told."), "success")
    return redirect(url_for("orders.detail", order_id=order_id, _anchor="payments"))


# ---------------------------------------------------------------- the cooperative's settings

@blueprint.route("/workspace/payment-settings", methods=["GET", "POST"])
@login_required
def settings():
    """A cooperative's payment terms (in full, or a deposit) and its bank account for transfers."""
    require(current_user, Permission.FULFIL_ORDERS)  # verified cooperatives
    modes = [(mode.value, label(mode)) for mode in PaymentMode]
    if request.method == "GET":
        current = services.settings_of(current_user.organisation_id)
        form = PaymentSettingsForm(formdata=None, data={
            "mode": current.mode.value, "deposit_percent": str(current.deposit_percent or ""),
            "bank_bin": current.bank_bin, "account_number": current.account_number,
            "account_name": current.account_name})
        form.set_choices(modes)
        return render_template("payments/settings.html", form=form)
    form = PaymentSettingsForm()
    form.set_choices(modes)
    details = services.SettingsDetails(mode=form.mode.data, deposit_percent=form.deposit_percent.data,
                                       bank_bin=form.bank_bin.data, account_number=form.account_number.data,
                                       account_name=form.account_name.data)
    try:
        services.save_settings(current_user, details, form.password.data, throttle.client_of(request))
    except throttle.TooManyAttempts as error:
        g.retry_after = error.retry_after  # web._init_retry_after writes it
        apply_service_errors(form, ValidationFailed.for_fields({"password": error.message}))
        return render_template("payments/settings.html", form=form), error.status
    except ValidationFailed as error:
        apply_service_errors(form, error)
        return render_template("payments/settings.html", form=form), 422
    flash(_("Saved. New orders take these terms; orders already placed keep theirs."), "success")
    return redirect(url_for("payments.settings"))
