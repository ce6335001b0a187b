"""The terms of an MoU revision: reading them from a form or the API, checking them, and comparing two
revisions field by field. Pure rules; services.py decides who may propose them."""
import difflib
import hashlib
import json
from dataclasses import dataclass, field, fields
from datetime import date

from flask_babel import lazy_gettext as _l

from marketplace import textinput
from marketplace.agreements.models import Period, PriceBasis
from marketplace.catalog.models import Certification, Product, ProductStatus
from marketplace.errors import ValidationFailed
from marketplace.extensions import db
from marketplace.querystring import whole_number

MAX_LINES = 20
MAX_TERM_DAYS = 5 * 366  # an MoU runs for at most five years
MAX_TEXT = 4000
MAX_CLAUSES = 30
MAX_QUANTITY = 10**9
MAX_PRICE_VND = 10**12
MAX_ADJUSTMENT_PERCENT = 50

TEXT_FIELDS = ("delivery_place", "delivery_frequency", "quality_standards", "sampling", "payment_terms",
               "buyer_responsibilities", "seller_responsibilities")


@dataclass
class LineDetails:
    product_id: object = None
    quantity: object = None
    period: object = None
    price_basis: object = None
    unit_price_vnd: object = None
    reference_price_vnd: object = None
    adjustment_percent: object = None


@dataclass
class TermsDetails:
    """What a party proposes, as received (strings from a form, values from JSON)."""

    lines: list = field(default_factory=list)
    start_date: object = None
    end_date: object = None
    delivery_place: str = ""
    delivery_frequency: str = ""
    lead_time_days: object = None
    quality_standards: str = ""
    quality_certifications: list = field(default_factory=list)
    sampling: str = ""
    payment_terms: str = ""
    buyer_responsibilities: str = ""
    seller_responsibilities: str = ""
    clauses: list = field(default_factory=list)

    @classmethod
    def from_mapping(cls, data):
        """Keep only known keys; lines become LineDetails."""
        known = {f.name for f in fields(cls)}
        values = {key: value for key, value in (data or {}).items() if key in known and value is not None}
        line_fields = LineDetails.__dataclass_fields__
        values["lines"] = [LineDetails(**{k: v for k, v in line.items() if k in line_fields})
                           for line in values.get("lines") or [] if isinstance(line, dict)]
        return cls(**values)


@dataclass
class CleanTerms:
    """Checked terms: `terms` (JSON-ready, without the lines) and the lines (dicts of AgreementLine fields)."""

    terms: dict
    lines: list

    def sha256(self):
        canonical = json.dumps({"terms": self.terms, "lines": self.lines}, sort_keys=True, ensure_ascii=False,
                               separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()


def _date(value, errors, name):
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value or "").strip())
    except ValueError:
        errors[name] = _l("Enter a date as YYYY-MM-DD.")
        return None


def plain(value):
    """Text as stored: without NUL characters (which PostgreSQL text cannot hold), stripped; None when it is
    not valid Unicode (a lone surrogate from JSON cannot be encoded)."""
    text = str(value or "").replace("\x00", "").strip()
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return None
    return text


def _text(value, errors, name, required=False, max_length=MAX_TEXT):
    text = textinput.clean(str(value or ""))
    if required and not textinput.has_letter_or_digit(text):
        errors[name] = _l("This field is required.")
    elif len(text) > max_length:
        errors[name] = _l("Use at most %(max)s characters.", max=max_length)
    return text


def _number(value, errors, name, minimum, maximum, required=True):
    if value in (None, ""):
        if required:
            errors[name] = _l("Enter a whole number.")
        return None
    readable = isinstance(value, (int, str)) and not isinstance(value, bool)
    number = whole_number(str(value).strip(), minimum, maximum) if readable else None
    if number is None:
        errors[name] = _l("Give a whole number from %(min)s to %(max)s.", min=minimum, max=maximum)
    return number


def _choice(value, enum_class, errors, name):
    try:
        return enum_class(value)
    except ValueError:
        errors[name] = _l("Choose one of the listed values.")
        return None


def clean_terms(details, seller, today):
    """Check proposed terms for an agreement with `seller` (a cooperative); returns CleanTerms.

    Raises ValidationFailed with an error per field ("lines.0.quantity" for a line's field).
    """
    errors = {}
    start = _date(details.start_date, errors, "start_date")
    end = _date(details.end_date, errors, "end_date")
    if start and end:
        if end <= start:
            errors["end_date"] = _l("The end date must be after the start date.")
        elif (end - start).days > MAX_TERM_DAYS:
            errors["end_date"] = _l("An MoU runs for at most five years.")
        elif end < today:
            errors["end_date"] = _l("The end date has already passed.")
    lines = _clean_lines(details.lines, seller, errors)
    certifications = []
    for code in details.quality_certifications or []:
        certification = _choice(code, Certification, errors, "quality_certifications")
        if certification and certification.value not in certifications:
            certifications.append(certification.value)
    clauses = [textinput.clean(str(c)) for c in details.clauses or [] if textinput.has_letter_or_digit(str(c or ""))]
    if len(clauses) > MAX_CLAUSES:
        errors["clauses"] = _l("At most %(max)s clauses.", max=MAX_CLAUSES)
    elif any(len(c) > MAX_TEXT for c in clauses):
        errors["clauses"] = _l("Use at most %(max)s characters.", max=MAX_TEXT)
    terms = {name: _text(getattr(details, name), errors, name) for name in TEXT_FIELDS}
    terms["delivery_place"] = _text(details.delivery_place, errors, "delivery_place", required=True)
    terms.update({
        "start_date": start.isoformat() if start else None,
        "end_date": end.isoformat() if end else None,
        "lead_time_days": _number(details.lead_time_days, errors, "lead_time_days", 0, 365, required=False),
        "quality_certifications": certifications,
        "clauses": clauses,
    })
    if errors:
        raise ValidationFailed.for_fields(errors)
    return CleanTerms(terms=terms, lines=lines)


def _clean_lines(rows, seller, errors):
    if not rows:
        errors["lines"] = _l("Add at least one product.")
        return []
    if len(rows) > MAX_LINES:
        errors["lines"] = _l("At most %(max)s products in one MoU.", max=MAX_LINES)
        return []
    lines, seen = [], set()
    for position, row in enumerate(rows):
        line = _clean_line(row, seller, errors, f"lines.{position}")
        if line is None:
            continue
        if line["product_id"] in seen:
            errors[f"lines.{position}.product_id"] = _l("This product is already in the MoU.")
            continue
        seen.add(line["product_id"])
        lines.append({**line, "position": position})
    return lines


def _clean_line(row, seller, errors, prefix):
    """One line as AgreementLine fields, or None (its errors are in `errors`)."""
    product_id = _number(row.product_id, errors, f"{prefix}.product_id", 1, 2**31 - 1)
    quantity = _number(row.quantity, errors, f"{prefix}.quantity", 1, MAX_QUANTITY)
    period = _choice(row.period, Period, errors, f"{prefix}.period")
    basis = _choice(row.price_basis, PriceBasis, errors, f"{prefix}.price_basis")
    price = reference = percent = None
    if basis == PriceBasis.FIXED:
        price = _number(row.unit_price_vnd, errors, f"{prefix}.unit_price_vnd", 1, MAX_PRICE_VND)
    elif basis == PriceBasis.REFERENCE:
        reference = _number(row.reference_price_vnd, errors, f"{prefix}.reference_price_vnd", 1, MAX_PRICE_VND)
        percent = _signed_percent(row.adjustment_percent, errors, f"{prefix}.adjustment_percent")
        if reference is not None and percent is not None:
            price = round(reference * (100 + percent) / 100)
    product = db.session.get(Product, product_id) if product_id else None
    if product_id and (product is None or product.cooperative_id != seller.id
                       or product.status != ProductStatus.PUBLISHED):
        errors[f"{prefix}.product_id"] = _l("Choose a product the cooperative has published.")
        return None
    if basis == PriceBasis.TIER and product is not None and quantity is not None:
        price = product.unit_price_for(quantity)
    if None in (product, quantity, period, basis, price):
        return None
    return {"product_id": product.id, "name": product.name, "unit": product.unit.value, "quantity": quantity,
            "period": period.value, "price_basis": basis.value, "unit_price_vnd": price,
            "reference_price_vnd": reference, "adjustment_percent": percent}


def _signed_percent(value, errors, name):
    text = str(value).strip() if isinstance(value, (int, str)) and not isinstance(value, bool) else ""
    negative = text.startswith("-")
    number = whole_number(text.lstrip("+-"), 0, MAX_ADJUSTMENT_PERCENT) if text else None
    if number is None:
        errors[name] = _l("Give a whole percentage from -%(max)s to %(max)s.", max=MAX_ADJUSTMENT_PERCENT)
        return None
    return -number if negative else number


# ---------------------------------------------------------------- comparing revisions

LINE_FIELDS = ("quantity", "period", "price_basis", "unit_price_vnd", "reference_price_vnd", "adjustment_percent")


@dataclass
class Change:
    field: str  # "end_date", "lines.<product_id>.quantity", "clauses"
    before: object
    after: object
    diff: list = field(default_factory=list)  # for long texts: unified diff lines


def compare(old, new):
    """What changed from revision `old` to revision `new` (both AgreementRevision), field by field."""
    changes = []
    for name in sorted(set(old.terms) | set(new.terms)):
        before, after = old.terms.get(name), new.terms.get(name)
        if before != after:
            changes.append(Change(name, before, after, _text_diff(before, after)))
    old_lines = {line.product_id: line for line in old.lines}
    new_lines = {line.product_id: line for line in new.lines}
    for product_id in sorted(old_lines.keys() | new_lines.keys(), key=lambda i: (i is None, i)):
        before, after = old_lines.get(product_id), new_lines.get(product_id)
        if before is None or after is None:
            changes.append(Change(f"lines.{product_id}", before and before.name, after and after.name))
            continue
        for name in LINE_FIELDS:
            if getattr(before, name) != getattr(after, name):
                changes.append(Change(f"lines.{product_id}.{name}", getattr(before, name), getattr(after, name)))
    return changes


def _text_diff(before, after):
    if isinstance(before, list) or isinstance(after, list):
        before, after = "\n".join(before or []), "\n".join(after or [])
    if not isinstance(before, str) or not isinstance(after, str):
        return []
    if "\n" not in before + after and len(before + after) < 120:  # short values read well side by side
        return []
    return list(difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="", n=1))[2:]
