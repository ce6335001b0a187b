"""Input shapes of the cooperative's workspace pages.

Only shapes: every rule (required fields, ranges, tiers, origin) lives in services.clean_product and
services.clean_certificate, whose ValidationFailed errors are put next to these fields by
marketplace.forms.apply_service_errors. Field names therefore match ProductDetails and
CertificateDetails. Choice fields do not check their choices here (validate_choice=False): a
tampered value reaches the service, which refuses it with a message on the field.
"""
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, MultipleFileField
from wtforms import (
    DateField,
    FieldList,
    Form,
    FormField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import Optional

from marketplace import geo
from marketplace.accounts.models import label
from marketplace.catalog.models import CapacityPeriod, Category, Certification, IssuingLevel, Unit
from marketplace.catalog.services import MAX_TIERS, OCOP_STARS
from marketplace.forms import int_or_none, select_choices

PHOTO_TYPES = "image/jpeg,image/png,image/webp"
SCAN_TYPES = "application/pdf,image/jpeg,image/png,image/webp"


class Marked:
    """Marks a field as required for people (asterisk, `required` attribute) without checking it:
    the service decides, so the HTML form and the API give the same answer."""

    field_flags = {"required": True}

    def __call__(self, form, field):
        return None


def _choices(enum_class, placeholder=None):
    return select_choices([(member.value, label(member)) for member in enum_class], placeholder)


def _text(value):
    return value.strip() if isinstance(value, str) else value


class TierForm(Form):
    """One row of the tier table: from `min_qty` units on, each unit costs `unit_price_vnd`."""

    min_qty = StringField(_l("From quantity"), filters=[_text])
    unit_price_vnd = StringField(_l("Unit price (đồng)"), filters=[_text])


class ProductForm(FlaskForm):
    name = StringField(_l("Product name (Vietnamese)"), validators=[Marked()], filters=[_text],
                       description=_l("As buyers know it, e.g. “Na dai Chi Lăng”."))
    name_en = StringField(_l("English name (optional)"), filters=[_text],
                          description=_l("Shown to buyers who read the site in English."))
    description = TextAreaField(_l("Description"), render_kw={"rows": 5},
                                description=_l("Variety, how it is grown or made, packing, storage."))
    category = SelectField(_l("Category"), validators=[Marked()], validate_choice=False)
    unit = SelectField(_l("Unit of sale"), validators=[Marked()], validate_choice=False,
                       description=_l("Prices and quantities are per this unit."))
    province_code = SelectField(_l("Province of origin"), coerce=int_or_none, validate_choice=False)
    commune_code = SelectField(_l("Commune of origin"), coerce=int_or_none, validate_choice=False,
                               description=_l("Administrative units in force since 1 July 2025."))
    base_price_vnd = StringField(_l("Base unit price (đồng)"), validators=[Marked()], filters=[_text],
                                 description=_l("Whole đồng per unit, e.g. 60.000. Applies from the minimum order "
                                                "up to the first tier."))
    min_order_qty = StringField(_l("Minimum order quantity"), validators=[Marked()], filters=[_text], default="1")
    order_increment = StringField(_l("Order increment"), validators=[Marked()], filters=[_text], default="1",
                                  description=_l("Buyers order in multiples of this quantity."))
    capacity_qty = StringField(_l("Available capacity (optional)"), filters=[_text],
                               description=_l("How many units you can supply."))
    capacity_period = SelectField(_l("Capacity is"), validate_choice=False)
    harvest_months = SelectMultipleField(_l("Harvest or availability months"), coerce=str, validate_choice=False)
    lead_time_days = StringField(_l("Lead time in days (optional)"), filters=[_text],
                                 description=_l("Days from a confirmed order to dispatch."))
    certifications = SelectMultipleField(_l("Quality certifications"), coerce=str, validate_choice=False)
    tiers = FieldList(FormField(TierForm), label=_l("Volume prices"), min_entries=MAX_TIERS, max_entries=MAX_TIERS)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.category.choices = _choices(Category, _l("Choose…"))
        self.unit.choices = _choices(Unit, _l("Choose…"))
        self.capacity_period.choices = _choices(CapacityPeriod, _l("Choose…"))
        self.province_code.choices = select_choices(geo.provinces(), _l("Choose a province…"))
        self.commune_code.choices = select_choices(geo.communes(self.province_code.data), _l("Choose a commune…"))
        self.harvest_months.choices = select_choices([(str(m), _l("Month %(number)s", number=m)) for m in range(1, 13)])
        self.certifications.choices = _choices(Certification)

    @classmethod
    def for_details(cls, details):
        """The form filled with a product's current details (services.ProductDetails)."""
        data = {name: getattr(details, name) for name in (
            "name", "name_en", "description", "category", "unit", "province_code", "commune_code",
            "capacity_period", "harvest_months", "certifications")}
        for name in ("base_price_vnd", "min_order_qty", "order_increment", "capacity_qty", "lead_time_days"):
            value = getattr(details, name)
            data[name] = "" if value is None else str(value)
        data["tiers"] = [{"min_qty": str(q), "unit_price_vnd": str(p)} for q, p in details.tiers]
        # formdata=None: on a POST of another form of the page (photos), the request's fields must not
        # blank these (absent checkboxes and tier rows would read as "none").
        return cls(formdata=None, data=data)

    def details(self):
        """The fields as a mapping for services.ProductDetails (raw text: the service parses numbers)."""
        names = ["name", "name_en", "description", "category", "unit", "province_code", "commune_code",
                 "base_price_vnd", "min_order_qty", "order_increment", "capacity_qty", "capacity_period",
                 "harvest_months", "lead_time_days", "certifications"]
        values = {name: getattr(self, name).data for name in names}
        values["tiers"] = [(row.min_qty.data, row.unit_price_vnd.data) for row in self.tiers]
        return values


class PhotosForm(FlaskForm):
    photos = MultipleFileField(_l("Add photos"), render_kw={"accept": PHOTO_TYPES},
                               description=_l("JPEG, PNG or WebP, up to 5 MB each; you can choose several. "
                                              "The first photo is the cover."))


class CertificateForm(FlaskForm):
    stars = SelectField(_l("OCOP rating"), validators=[Marked()], coerce=int_or_none, validate_choice=False)
    certificate_no = StringField(_l("Certificate number"), validators=[Marked()], filters=[_text],
                                 description=_l("As printed on the certificate."))
    issuing_level = SelectField(_l("Issued by"), validators=[Marked()], validate_choice=False,
                                default=IssuingLevel.PROVINCE.value,
                                description=_l("3 and 4 stars are rated by the province, 5 stars centrally."))
    decision_date = DateField(_l("Decision date"), validators=[Optional()],
                              description=_l("The date of the rating decision."))
    expires_on = DateField(_l("Expiry date (optional)"), validators=[Optional()],
                           description=_l("Leave empty: 36 months after the decision date."))
    scan = FileField(_l("Scan of the certificate (optional)"), render_kw={"accept": SCAN_TYPES},
                     description=_l("PDF, JPEG, PNG or WebP, up to 5 MB. Only your cooperative and the alliance "
                                    "can open it."))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.stars.choices = select_choices([(s, _l("%(num)s stars", num=s)) for s in OCOP_STARS],
                                            _l("Choose…"))
        self.issuing_level.choices = _choices(IssuingLevel)

    def details(self):
        """The fields as a mapping for services.CertificateDetails."""
        return {name: getattr(self, name).data for name in
                ("stars", "certificate_no", "issuing_level", "decision_date", "expires_on")}
