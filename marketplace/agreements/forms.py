"""Input shapes of the MoU pages. Only shapes: every rule lives in terms.clean_terms and services.py, whose
ValidationFailed errors the views put next to these fields ("lines.2.quantity" onto the third row).

Product rows work without JavaScript: the form always shows the rows entered plus blank ones, a row
whose product and figures are all empty is ignored, "Remove" drops a row and "Add a product row"
shows the form again with one more blank row, saving nothing.
"""
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    FieldList,
    Form,
    FormField,
    HiddenField,
    PasswordField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)

from marketplace.agreements import queries
from marketplace.agreements.terms import MAX_LINES
from marketplace.catalog.forms import Marked
from marketplace.forms import int_or_none, select_choices

BLANK_ROWS = 2  # blank product rows offered below the filled ones

# The MoU template: standard wording a party starts from, in Vietnamese and in English (the PDF itself is
# always Vietnamese with English subtitles; these are the parties' own words, which they edit).
TEMPLATE = {
    "vi": {
        "delivery_frequency": "Theo đơn đặt hàng của bên mua, tối thiểu một lần mỗi tháng.",
        "quality_standards": "Sản phẩm đúng tiêu chuẩn chất lượng đã công bố và giấy chứng nhận OCOP còn hiệu lực.",
        "sampling": "Bên mua lấy mẫu ngẫu nhiên khi nhận hàng; hai bên cùng ký biên bản giao nhận.",
        "payment_terms": "Chuyển khoản trong vòng 15 ngày kể từ ngày nhận hàng và hóa đơn hợp lệ.",
        "buyer_responsibilities": "Đặt hàng trước theo thời gian đã thỏa thuận; nhận hàng và thanh toán đúng hạn.",
        "seller_responsibilities": "Giao đủ số lượng, đúng chất lượng và thời gian; báo sớm cho bên mua khi sản "
                                   "lượng thay đổi.",
        "clauses": "Thỏa thuận ghi nhớ này là cơ sở để hai bên ký các hợp đồng mua bán cụ thể.\n\n"
                   "Tranh chấp (nếu có) được giải quyết trước hết bằng thương lượng, hòa giải.",
    },
    "en": {
        "delivery_frequency": "As the buyer orders, at least once a month.",
        "quality_standards": "Products meet the declared quality standards and hold a valid OCOP certificate.",
        "sampling": "The buyer takes random samples on delivery; both sides sign the delivery record.",
        "payment_terms": "Bank transfer within 15 days of receiving the goods and a valid invoice.",
        "buyer_responsibilities": "Order ahead as agreed; take delivery and pay on time.",
        "seller_responsibilities": "Deliver the full quantity, at the agreed quality and time; tell the buyer early "
                                   "when the harvest changes.",
        "clauses": "This memorandum is the basis on which the parties sign specific sales contracts.\n\n"
                   "Disputes, if any, are settled first by negotiation and mediation.",
    },
}


def _text(value):
    return value.strip() if isinstance(value, str) else value


class LineForm(Form):
    """One product row: the product, the quantity expected per period and how its price is set."""

    product_id = SelectField(_l("Product"), validate_choice=False)
    quantity = StringField(_l("Expected quantity"), filters=[_text], render_kw={"inputmode": "numeric"})
    period = SelectField(_l("Per"), validate_choice=False, default="month")
    price_basis = SelectField(_l("Price basis"), validate_choice=False, default="tier")
    unit_price_vnd = StringField(_l("Fixed unit price (đồng)"), filters=[_text], render_kw={"inputmode": "numeric"})
    reference_price_vnd = StringField(_l("Reference price (đồng)"), filters=[_text],
                                      render_kw={"inputmode": "numeric"})
    adjustment_percent = StringField(_l("Adjustment ± %"), filters=[_text])
    remove = BooleanField(_l("Remove this row"))

    FIGURES = ("product_id", "quantity", "unit_price_vnd", "reference_price_vnd", "adjustment_percent")

    def is_blank(self):
        return not any((getattr(self, name).data or "").strip() for name in self.FIGURES)

    def details(self):
        return {name: getattr(self, name).data for name in (
            "product_id", "quantity", "period", "price_basis", "unit_price_vnd", "reference_price_vnd",
            "adjustment_percent")}


class TermsForm(FlaskForm):
    """The terms of an MoU (new, or a revision of one)."""

    lines = FieldList(FormField(LineForm), label=_l("Products"), min_entries=1, max_entries=MAX_LINES + BLANK_ROWS)
    start_date = StringField(_l("Start date"), validators=[Marked()], render_kw={"type": "date"})
    end_date = StringField(_l("End date"), validators=[Marked()], render_kw={"type": "date"})
    delivery_place = StringField(_l("Place of delivery"), validators=[Marked()], filters=[_text],
                                 description=_l("e.g. the buyer's warehouse in Hà Nội."))
    delivery_frequency = StringField(_l("Delivery frequency"), filters=[_text])
    lead_time_days = StringField(_l("Lead time in days (optional)"), filters=[_text],
                                 render_kw={"inputmode": "numeric"},
                                 description=_l("Days from an order to delivery."))
    quality_standards = TextAreaField(_l("Quality standards"), filters=[_text], render_kw={"rows": 2})
    quality_certifications = SelectMultipleField(_l("Certifications required"), coerce=str, validate_choice=False)
    sampling = TextAreaField(_l("Sampling and inspection"), filters=[_text], render_kw={"rows": 2})
    payment_terms = TextAreaField(_l("Payment terms"), filters=[_text], render_kw={"rows": 2})
    buyer_responsibilities = TextAreaField(_l("Buyer's responsibilities"), filters=[_text], render_kw={"rows": 2})
    seller_responsibilities = TextAreaField(_l("Seller's responsibilities"), filters=[_text], render_kw={"rows": 2})
    clauses = TextAreaField(_l("Other clauses"), filters=[_text], render_kw={"rows": 4},
                            description=_l("One clause per paragraph: leave an empty line between clauses."))
    note = TextAreaField(_l("Message to the other party (optional)"), filters=[_text], render_kw={"rows": 2})

    def __init__(self, *args, seller_id=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.quality_certifications.choices = select_choices(queries.certification_choices())
        self.set_products(seller_id)

    def set_products(self, seller_id):
        """Offer the seller's published products in every row (none before a seller is chosen)."""
        products = select_choices(queries.product_choices(seller_id) if seller_id else [], _l("Choose a product…"))
        for row in self.lines:
            row.product_id.choices = products
            row.period.choices = select_choices(queries.period_choices())
            row.price_basis.choices = select_choices(queries.price_basis_choices())

    def prepare_rows(self, add=0):
        """Drop removed rows, then leave BLANK_ROWS blank rows (plus `add`) at the end, within MAX_LINES."""
        kept = [row.data for row in self.lines if not row.remove.data and not row.is_blank()]
        wanted = min(len(kept) + BLANK_ROWS + add, self.lines.max_entries)
        while self.lines.entries:
            self.lines.pop_entry()
        for data in kept:
            self.lines.append_entry({**data, "remove": False})
        while len(self.lines.entries) < wanted:
            self.lines.append_entry()

    def details(self):
        """(mapping for terms.TermsDetails, row index of each line sent): blank and removed rows are left out."""
        rows = [(index, row) for index, row in enumerate(self.lines) if not row.remove.data and not row.is_blank()]
        values = {name: getattr(self, name).data for name in (
            "start_date", "end_date", "delivery_place", "delivery_frequency", "lead_time_days", "quality_standards",
            "quality_certifications", "sampling", "payment_terms", "buyer_responsibilities",
            "seller_responsibilities")}
        values["clauses"] = [part.strip() for part in (self.clauses.data or "").replace("\r\n", "\n").split("\n\n")]
        values["lines"] = [row.details() for _index, row in rows]
        return values, [index for index, _row in rows]

    def place_errors(self, error, row_indexes):
        """Put a service's ValidationFailed next to the fields; returns the messages that fit no field."""
        unplaced = []
        for name, message in getattr(error, "errors", {}).items():
            message = str(message)  # plain str: a lazy string would be printed unescaped
            parts = name.split(".")
            target = None
            if parts[0] == "lines" and len(parts) == 3 and parts[1].isdigit() and int(parts[1]) < len(row_indexes):
                row = self.lines.entries[row_indexes[int(parts[1])]]
                target = getattr(row.form, parts[2], None)
            elif name != "lines":
                target = getattr(self, name, None)
            if target is not None and hasattr(target, "errors"):
                target.errors = [*(target.errors or []), message] if isinstance(target.errors, list) else [message]
            elif name == "lines":
                self.lines_error = message
            else:
                unplaced.append(message)
        return unplaced

    lines_error = None


class NewAgreementForm(TermsForm):
    counterparty_id = SelectField(_l("The other party"), validators=[Marked()], coerce=int_or_none,
                                  validate_choice=False)
    witness = BooleanField(_l("Ask the provincial cooperative alliance to witness and sign too"))
    event_id = SelectField(_l("Conference (optional)"), coerce=int_or_none, validate_choice=False,
                           description=_l("The alliance's event this MoU is made for, if any."))
    inquiry_id = HiddenField()  # the inquiry thread it is drafted from, if any


class ReasonForm(FlaskForm):
    reason = TextAreaField(_l("Reason"), validators=[Marked()], filters=[_text], render_kw={"rows": 2})


class SignForm(FlaskForm):
    password = PasswordField(_l("Your password"), validators=[Marked()],
                             description=_l("Enter your password again to sign in your organisation's name."))
    revision_number = StringField()


class AnswerForm(FlaskForm):
    revision_number = StringField()


class ConferenceForm(FlaskForm):
    name = StringField(_l("Name of the conference"), validators=[Marked()], filters=[_text],
                       description=_l("e.g. “Hội nghị gặp mặt, kết nối tiêu thụ sản phẩm HTX 2024”."))
    held_on = StringField(_l("Date"), validators=[Marked()], render_kw={"type": "date"})
    place = StringField(_l("Place"), filters=[_text])


class BatchRowForm(Form):
    """One product line of a prepared MoU: lines of the same pair make one MoU."""

    seller_id = SelectField(_l("Cooperative"), coerce=int_or_none, validate_choice=False)
    buyer_id = SelectField(_l("Enterprise"), coerce=int_or_none, validate_choice=False)
    product_id = SelectField(_l("Product"), validate_choice=False)
    quantity = StringField(_l("Expected quantity"), filters=[_text], render_kw={"inputmode": "numeric"})
    period = SelectField(_l("Per"), validate_choice=False, default="month")

    def is_blank(self):
        return not (self.seller_id.data or self.buyer_id.data or self.product_id.data or self.quantity.data)


BATCH_ROWS = 6


class BatchForm(FlaskForm):
    rows = FieldList(FormField(BatchRowForm), min_entries=BATCH_ROWS, max_entries=BATCH_ROWS)
    start_date = StringField(_l("Start date"), validators=[Marked()], render_kw={"type": "date"})
    end_date = StringField(_l("End date"), validators=[Marked()], render_kw={"type": "date"})
    delivery_place = StringField(_l("Place of delivery"), validators=[Marked()], filters=[_text])

    def set_choices(self, cooperatives, enterprises, products):
        for row in self.rows:
            row.seller_id.choices = select_choices(cooperatives, _l("Choose…"))
            row.buyer_id.choices = select_choices(enterprises, _l("Choose…"))
            row.product_id.choices = select_choices(products, _l("Choose…"))
            row.period.choices = select_choices(queries.period_choices())
