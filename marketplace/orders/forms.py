"""Input shapes of the order pages. Only shapes: every rule lives in orders/services.py and
payments/services.py, whose ValidationFailed errors the views put next to these fields
(`delivery.street` onto the street, `lines.2.quantity` onto the third line of the checkout)."""
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import RadioField, SelectField, StringField, TextAreaField

from marketplace import geo
from marketplace.catalog.forms import Marked
from marketplace.forms import int_or_none, select_choices
from marketplace.orders.services import MAX_NOTES, MAX_PO_NUMBER, MAX_REASON, MAX_STREET


def _text(value):
    return value.strip() if isinstance(value, str) else value


class QuantityForm(FlaskForm):
    """A quantity in the product's unit (the product page's "Add to order", a cart line)."""

    quantity = StringField(_l("Quantity"), validators=[Marked()], filters=[_text],
                           render_kw={"inputmode": "numeric"})


class CheckoutForm(FlaskForm):
    """Where and when to deliver the cart, under which MoU (at most one per checkout)."""

    province_code = SelectField(_l("Province / city"), coerce=int_or_none, validate_choice=False,
                                validators=[Marked()])
    commune_code = SelectField(_l("Commune / ward"), coerce=int_or_none, validate_choice=False,
                               validators=[Marked()],
                               description=_l("Administrative units in force since 1 July 2025."))
    street = StringField(_l("Street address"), validators=[Marked()], filters=[_text],
                         render_kw={"maxlength": MAX_STREET},
                         description=_l("House number, street, village or industrial park."))
    requested_date = StringField(_l("Requested delivery date"), validators=[Marked()], filters=[_text],
                                 render_kw={"type": "date"})
    po_number = StringField(_l("Purchase order number (optional)"), filters=[_text],
                            render_kw={"maxlength": MAX_PO_NUMBER},
                            description=_l("Your own reference, printed on the order confirmation."))
    notes = TextAreaField(_l("Notes for the cooperatives (optional)"), filters=[_text],
                          render_kw={"rows": 3, "maxlength": MAX_NOTES})
    agreement_id = RadioField(_l("Order under an MoU"), validate_choice=False, default="")

    # Where each field's errors come from in services.place_orders.
    SERVICE_FIELDS = {
        "delivery.province_code": "province_code",
        "delivery.commune_code": "commune_code",
        "delivery.street": "street",
        "delivery.requested_date": "requested_date",
        "po_number": "po_number",
        "notes": "notes",
        "agreement_id": "agreement_id",
    }

    def set_choices(self, mous):
        """Provinces, the chosen province's communes, and "none" plus the MoUs in force with the cart's
        cooperatives (`queries.mous_in_cart`)."""
        self.province_code.choices = select_choices(geo.provinces(), _l("Choose a province…"))
        self.commune_code.choices = select_choices(geo.communes(self.province_code.data), _l("Choose a commune…"))
        self.agreement_id.choices = [("", _l("No MoU: catalogue prices"))] + [
            (str(agreement.id), agreement.reference) for agreement, _cooperative, _priced in mous]

    def request_data(self, lines):
        """The mapping for services.OrderRequest.from_mapping."""
        return {
            "lines": lines,
            "delivery": {"province_code": self.province_code.data, "commune_code": self.commune_code.data,
                         "street": self.street.data or "", "requested_date": self.requested_date.data or ""},
            "po_number": self.po_number.data or "",
            "notes": self.notes.data or "",
            "agreement_id": self.agreement_id.data or None,
        }

    def place_errors(self, errors, line_products):
        """Put the service's errors on the fields; return ({product_id: [messages]} for the lines,
        [messages] that belong to no field). `line_products[n]` is the product of `lines.n`."""
        by_product, unplaced = {}, []
        for key, message in errors.items():
            message = str(message)  # plain str: lazy strings count as safe markup in Jinja
            parts = key.split(".")
            if key in self.SERVICE_FIELDS:
                field = getattr(self, self.SERVICE_FIELDS[key])
                field.errors = [*field.errors, message]
            elif len(parts) == 3 and parts[0] == "lines" and parts[1].isdigit() and \
                    int(parts[1]) < len(line_products):
                by_product.setdefault(line_products[int(parts[1])], []).append(message)
            else:
                unplaced.append(message)
        return by_product, unplaced


class ReasonForm(FlaskForm):
    """Why the order is rejected or cancelled: the other side reads it."""

    reason = TextAreaField(_l("Reason"), validators=[Marked()], filters=[_text],
                           render_kw={"rows": 2, "maxlength": MAX_REASON})


class ShipForm(FlaskForm):
    """The delivery note; the quantities shipped per line are read beside it (one input per line)."""

    delivery_note = TextAreaField(_l("Delivery note"), validators=[Marked()], filters=[_text],
                                  render_kw={"rows": 2},
                                  description=_l("Carrier, vehicle, number of packages, delivery slip number."))


class DeliverForm(FlaskForm):
    """The buyer confirms receipt; the quantities received are read per line (errors not of a line are flashed)."""
