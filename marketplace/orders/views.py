"""Pages of orders ("orders" blueprint): the cart, the checkout, the list of one's orders, an order with its
actions, and its confirmation PDF. The payment pages are payments/views.py.

Each view reads the form, calls one service and picks a response; services.py decides who may do what. A
refused step (not the order's turn, another side's action) is flashed on the order's page; bad input comes back
with status 422 and the message at its field; capacity that is short at checkout comes back with 409 and the
message at each short line. Anyone who is not a party to an order gets 404 from every order route.
"""
import io
import re
from datetime import date, timedelta

from flask import Blueprint, abort, flash, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from marketplace.accounts.authz import Permission, require
from marketplace.agreements import queries as agreement_queries
from marketplace.catalog import public as catalog_public
from marketplace.catalog import queries as catalog_queries
from marketplace.catalog.services import today
from marketplace.errors import DomainError, NotFound, ValidationFailed
from marketplace.forms import apply_service_errors
from marketplace.i18n import short_date
from marketplace.orders import queries, services
from marketplace.orders.forms import CheckoutForm, DeliverForm, QuantityForm, ReasonForm, ShipForm
from marketplace.orders.models import OrderStatus
from marketplace.pagecache import kept_for_the_organisation
from marketplace.payments import services as payments
from marketplace.payments.forms import TransferForm
from marketplace.payments.models import PaymentMethod, PaymentStatus
from marketplace.querystring import MAX_PAGE, whole_number, whole_number_arg
from marketplace.routing import MAX_ID

blueprint = Blueprint("orders", __name__)

ORDER = "/orders/<id:order_id>"
PER_PAGE = 20
CHECKOUT_ID = re.compile(r"[0-9a-f]{32}")


# ---------------------------------------------------------------- the cart

@blueprint.post("/cart/items")
@login_required
def add_to_cart():
    """The product page's "Add to order": the quantity is checked by the service (minimum, increment)."""
    product_id = whole_number((request.form.get("product_id") or "").strip(), 1, MAX_ID)
    form = QuantityForm()
    try:
        item = services.put_in_cart(current_user, product_id, form.quantity.data)
    except ValidationFailed as error:
        apply_service_errors(form, error)
        return catalog_public.product_page(catalog_queries.public_product(product_id), status=422, cart_form=form)
    flash(_("%(product)s is in your cart (%(quantity)s in all).", product=item.product.name,
            quantity=item.quantity), "success")
    return redirect(url_for("orders.cart"))


@blueprint.get("/cart")
@login_required
def cart():
    """The buyer's cart, one section per cooperative: the order each will become."""
    require(current_user, Permission.PLACE_ORDERS)
    return _cart_page()


def _cart_page(status=200, line_errors=None, entered=None):
    groups = services.cart_of(current_user)
    return render_template("orders/cart.html", groups=groups, terms=_terms_of(groups), line_errors=line_errors or {},
                           entered=entered or {}, unit_label=agreement_queries.unit_label), status


def _terms_of(groups):
    """{cooperative id: its PaymentSettings} for the cooperatives of the cart."""
    return {group.cooperative.id: payments.settings_of(group.cooperative.id) for group in groups}


@blueprint.post("/cart/items/<id:product_id>")
@login_required
def update_cart_item(product_id):
    form = QuantityForm()
    try:
        services.put_in_cart(current_user, product_id, form.quantity.data, add=False)
    except ValidationFailed as error:
        messages = [str(m) for m in error.errors.values()] or [str(error.message)]
        return _cart_page(422, line_errors={product_id: messages}, entered={product_id: form.quantity.data})
    flash(_("The quantity is changed."), "success")
    return redirect(url_for("orders.cart", _anchor=f"item-{product_id}"))


@blueprint.post("/cart/items/<id:product_id>/remove")
@login_required
def remove_cart_item(product_id):
    require(current_user, Permission.PLACE_ORDERS)
    services.remove_from_cart(current_user, product_id)
    flash(_("The product is out of your cart."), "success")
    return redirect(url_for("orders.cart"))


# ---------------------------------------------------------------- the checkout

def _earliest_delivery(groups):
    lead = max((item.product.lead_time_days or 0 for group in groups for item in group.items), default=0)
    return today() + timedelta(days=lead)


@blueprint.route("/checkout", methods=["GET", "POST"])
@login_required
def checkout():
    """Delivery address, date, PO number, notes and at most one MoU for the whole cart; placing it makes one
    order per cooperative (all or none)."""
    require(current_user, Permission.PLACE_ORDERS)
    groups = services.cart_of(current_user)
    if not groups:
        flash(_("Your cart is empty: add products from the catalogue first."), "info")
        return redirect(url_for("orders.cart"))
    mous = queries.mous_in_cart(groups, today())
    if request.method == "GET":
        own = current_user.organisation
        form = CheckoutForm(formdata=None, data={
            "province_code": own.province_code, "commune_code": own.commune_code, "street": own.street_address,
            "requested_date": _earliest_delivery(groups).isoformat(), "agreement_id": ""})
        form.set_choices(mous)
        return _checkout_page(form, groups, mous)
    form = CheckoutForm()
    form.set_choices(mous)
    if "refresh_communes" in request.form:  # the no-JavaScript "show the communes": place nothing
        return _checkout_page(form, groups, mous)
    items = [item for group in groups for item in group.items]
    lines = [{"product_id": item.product_id, "quantity": item.quantity} for item in items]
    order_request = services.OrderRequest.from_mapping(form.request_data(lines))
    try:
        orders = services.place_orders(current_user, order_request, from_cart=True)
    except services.InsufficientCapacity as error:
        line_errors, unplaced = form.place_errors(error.errors, [item.product_id for item in items])
        for message in [str(error.message), *unplaced]:
            flash(message, "danger")
        return _checkout_page(form, groups, mous, line_errors, status=409)
    except ValidationFailed as error:
        line_errors, unplaced = form.place_errors(error.errors, [item.product_id for item in items])
        for message in unplaced:
            flash(message, "danger")
        return _checkout_page(form, groups, mous, line_errors, status=422)
    if len(orders) == 1:
        flash(_("Your order is placed: the cooperative confirms it, then you pay what is due."), "success")
    else:
        flash(_("%(num)s orders are placed, one per cooperative: each cooperative confirms its order, then you "
                "pay what is due.", num=len(orders)), "success")
    return redirect(url_for("orders.index", checkout=orders[0].checkout_id))


def _checkout_page(form, groups, mous, line_errors=None, status=200):
    earliest = _earliest_delivery(groups)
    form.requested_date.render_kw = {**(form.requested_date.render_kw or {}), "min": earliest.isoformat()}
    form.requested_date.description = _("The earliest possible date is %(day)s (the longest lead time of these "
                                        "products).", day=short_date(earliest))
    return render_template("orders/checkout.html", form=form, groups=groups, mous=mous, terms=_terms_of(groups),
                           earliest=earliest, line_errors=line_errors or {},
                           unit_label=agreement_queries.unit_label), status


# ---------------------------------------------------------------- the list

@blueprint.get("/orders")
@login_required
@kept_for_the_organisation
def index():
    """The orders of the user's organisation: a buyer's orders, a cooperative's incoming ones; with filters.
    `?checkout=` (after placing orders) lists the orders that checkout created above the list."""
    own = current_user.organisation
    if own.is_alliance:
        abort(403)  # the alliance follows orders through aggregates, never one by one
    filters, kept = _filters(request.args)
    page = whole_number_arg(request.args, "page", MAX_PAGE, default=1)
    pagination = services.list_orders(current_user, filters, page=page, per_page=PER_PAGE)
    checkout_id = request.args.get("checkout", "")
    placed = queries.checkout_orders(own.id, checkout_id) if CHECKOUT_ID.fullmatch(checkout_id) else []
    return render_template("orders/index.html", pagination=pagination, filters=kept, placed=placed,
                           statuses=list(OrderStatus), counterparties=queries.counterparty_choices(own.id),
                           agreements=queries.agreement_choices(own.id))


def _filters(args):
    """OrderFilters from the query string, read leniently (a bad value is dropped), and the values kept."""
    status = args.get("status", "")
    status = OrderStatus(status) if status in {s.value for s in OrderStatus} else None
    counterparty = whole_number_arg(args, "counterparty", MAX_ID)
    agreement = whole_number_arg(args, "agreement", MAX_ID)
    placed_from, placed_to = _day(args.get("from")), _day(args.get("to"))
    filters = services.OrderFilters(status=status, counterparty_id=counterparty, agreement_id=agreement,
                                    placed_from=placed_from, placed_to=placed_to)
    kept = {"status": status.value if status else None, "counterparty": counterparty, "agreement": agreement,
            "from": placed_from.isoformat() if placed_from else None,
            "to": placed_to.isoformat() if placed_to else None}
    return filters, {name: value for name, value in kept.items() if value is not None}


def _day(value):
    try:
        return date.fromisoformat(value) if isinstance(value, str) and len(value) == 10 else None
    except ValueError:
        return None


# ---------------------------------------------------------------- one order

@blueprint.get(ORDER)
@login_required
def detail(order_id):
    """One order with its lines, payments, timeline and the actions the user's side may take now (404 unless
    the user's organisation is a party)."""
    return detail_page(services.get_order(current_user, order_id))


def detail_page(order, status=200, forms=None, open_form=None, line_errors=None, entered=None):
    """The order's page; `forms` are forms sent back with their errors (by name), `line_errors` and `entered`
    the messages and values of the quantity inputs (by order line id)."""
    own_id = current_user.organisation_id
    role = order.party_role(own_id)
    forms = forms or {}
    transfer_forms = {}
    if role == "cooperative":
        for payment in order.payments:
            if payment.method == PaymentMethod.BANK_TRANSFER and payment.status == PaymentStatus.PENDING:
                transfer_forms[payment.id] = forms.get(f"transfer-{payment.id}") or TransferForm(
                    formdata=None, prefix=f"transfer-{payment.id}", data={"amount_vnd": str(payment.amount_vnd)})
    settings = payments.settings_of(order.cooperative_id) if role == "cooperative" else None
    return render_template(
        "orders/detail.html", order=order, role=role, counterparty=order.counterparty_of(own_id),
        methods=payments.methods_for(order) if role == "buyer" and order.amount_due_vnd() > 0 else [],
        settings=settings, transfer_forms=transfer_forms,
        reject_form=forms.get("reject") or ReasonForm(formdata=None, prefix="reject"),
        cancel_form=forms.get("cancel") or ReasonForm(formdata=None, prefix="cancel"),
        ship_form=forms.get("ship") or ShipForm(formdata=None, prefix="ship"),
        open_form=open_form, line_errors=line_errors or {}, entered=entered or {},
        unit_label=agreement_queries.unit_label,
    ), status


def _back(order_id, anchor=None):
    return redirect(url_for("orders.detail", order_id=order_id, _anchor=anchor))


def _act(order_id, call, success, form=None, form_name=None, line_ids=()):
    """Run one service call for the order page: success → flash and back; bad input → the page again with the
    messages at their fields (422); a refused step → flashed on the page. NotFound stays a 404."""
    try:
        call()
    except ValidationFailed as error:
        if form is None:
            flash(str(error.message), "danger")
            return _back(order_id)
        line_errors = _place_errors(form, error, line_ids)
        order = services.get_order(current_user, order_id)
        entered = {line_id: request.form.get(f"quantity-{line_id}", "") for line_id in line_ids}
        return detail_page(order, status=422, forms={form_name: form}, open_form=form_name, line_errors=line_errors,
                           entered=entered)
    except NotFound:
        raise
    except DomainError as error:
        flash(str(error.message), "danger")
        return _back(order_id)
    flash(success, "success")
    return _back(order_id)


def _place_errors(form, error, line_ids):
    """The form's own fields take their messages; `lines.N.quantity` goes to the N-th line sent; the rest is
    flashed. Returns {order line id: [messages]}."""
    by_line, others = {}, {}
    for key, message in error.errors.items():
        parts = key.split(".")
        if len(parts) == 3 and parts[0] == "lines" and parts[1].isdigit() and int(parts[1]) < len(line_ids):
            by_line.setdefault(line_ids[int(parts[1])], []).append(str(message))
        else:
            others[key] = message
    if others or not by_line:
        apply_service_errors(form, ValidationFailed(error.message, errors=others))
    return by_line


def _line_quantities(order):
    """([{"product_id", "quantity"}] as typed for each line of the order, [order line id per entry])."""
    lines, ids = [], []
    for line in order.lines:
        if line.product_id is None:  # the product was deleted since: its line keeps its quantity
            continue
        lines.append({"product_id": line.product_id, "quantity": request.form.get(f"quantity-{line.id}", "")})
        ids.append(line.id)
    return lines, ids


@blueprint.post(f"{ORDER}/confirm")
@login_required
def confirm(order_id):
    return _act(order_id, lambda: services.confirm(current_user, order_id),
                _("You confirmed the order. The buyer is told and pays what is due before shipping."))


@blueprint.post(f"{ORDER}/reject")
@login_required
def reject(order_id):
    form = ReasonForm(prefix="reject")
    return _act(order_id, lambda: services.reject(current_user, order_id, form.reason.data),
                _("You rejected the order. The buyer is told why."), form, "reject")


@blueprint.post(f"{ORDER}/cancel")
@login_required
def cancel(order_id):
    form = ReasonForm(prefix="cancel")
    return _act(order_id, lambda: services.cancel(current_user, order_id, form.reason.data),
                _("The order is cancelled. The other side is told why."), form, "cancel")


@blueprint.post(f"{ORDER}/ship")
@login_required
def ship(order_id):
    order = services.get_order(current_user, order_id)
    form = ShipForm(prefix="ship")
    lines, ids = _line_quantities(order)
    return _act(order_id, lambda: services.ship(current_user, order_id, form.delivery_note.data, lines=lines),
                _("The order is marked as shipped. The buyer is told."), form, "ship", ids)


@blueprint.post(f"{ORDER}/deliver")
@login_required
def deliver(order_id):
    order = services.get_order(current_user, order_id)
    form = DeliverForm(prefix="deliver")
    lines, ids = _line_quantities(order)
    return _act(order_id, lambda: services.deliver(current_user, order_id, lines=lines),
                _("You confirmed the delivery. The cooperative is told."), form, "deliver", ids)


@blueprint.get(f"{ORDER}/confirmation.pdf")
@login_required
def confirmation_pdf(order_id):
    """The order confirmation as a PDF (Vietnamese with English subtitles), for the two parties only."""
    from marketplace.orders import pdf  # fpdf2 costs half a second to import: only when a PDF is made

    order = services.get_order(current_user, order_id)
    data = pdf.render_confirmation(pdf.content_of(order))
    response = send_file(io.BytesIO(data), mimetype="application/pdf", as_attachment=True,
                         download_name=f"{order.reference}.pdf")
    response.headers["Cache-Control"] = "private, no-store"
    return response
