"""Rows of a batch of MoUs for a conference, from a CSV file or the page's form, grouped into one MoU per
cooperative–enterprise pair (services.BatchRow); no rules here: services.prepare_batch checks every MoU.

A CSV file (UTF-8, with or without BOM; "," or ";") has one product per line:

    cooperative_tax_code,enterprise_tax_code,product,quantity,period,price_basis,unit_price_vnd,start_date,end_date,delivery_place

`product` is the product's id or its exact name in the cooperative's catalogue; `period` is week, month, season,
year or total; `price_basis` fixed, tier or reference (with `reference_price_vnd` and `adjustment_percent`
columns). Lines of the same pair become the lines of one MoU, whose term and place come from its first line.
"""
import csv
import io
from dataclasses import dataclass, field

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from marketplace.accounts.models import Organisation
from marketplace.agreements import services
from marketplace.agreements.forms import TEMPLATE
from marketplace.agreements.terms import TermsDetails
from marketplace.catalog.models import Product
from marketplace.errors import ValidationFailed
from marketplace.extensions import db

MAX_LINES = 500
REQUIRED = ("cooperative_tax_code", "enterprise_tax_code", "product", "quantity", "start_date", "end_date",
            "delivery_place")
OPTIONAL = ("period", "price_basis", "unit_price_vnd", "reference_price_vnd", "adjustment_percent")
TERM_TEXTS = {key: value for key, value in TEMPLATE["vi"].items() if key != "clauses"}


@dataclass
class Line:
    """One product line of the batch, as read: where it came from (a CSV line or a form row) and its values."""

    origin: str
    seller_id: object
    buyer_id: object
    product_id: object
    values: dict


@dataclass
class Batch:
    rows: list = field(default_factory=list)  # services.BatchRow, one per pair
    origins: list = field(default_factory=list)  # per pair: the origins of its lines, in order


def group(lines):
    """One BatchRow per (cooperative, enterprise) pair, its lines in the order given."""
    batch, index = Batch(), {}
    for line in lines:
        key = (line.seller_id, line.buyer_id)
        if key not in index:
            index[key] = len(batch.rows)
            first = line.values
            batch.rows.append(services.BatchRow(seller_id=line.seller_id, buyer_id=line.buyer_id, details={
                **TERM_TEXTS, "start_date": first.get("start_date"), "end_date": first.get("end_date"),
                "delivery_place": first.get("delivery_place") or "", "lines": [],
                "clauses": TEMPLATE["vi"]["clauses"].split("\n\n")}))
            batch.origins.append([])
        position = index[key]
        batch.rows[position].details["lines"].append({
            "product_id": line.product_id, "quantity": line.values.get("quantity"),
            "period": line.values.get("period") or "month", "price_basis": line.values.get("price_basis") or "tier",
            "unit_price_vnd": line.values.get("unit_price_vnd"),
            "reference_price_vnd": line.values.get("reference_price_vnd"),
            "adjustment_percent": line.values.get("adjustment_percent")})
        batch.origins[position].append(line.origin)
    for row in batch.rows:
        row.details = TermsDetails.from_mapping(row.details)
    return batch


def messages(batch, error):
    """A service's ValidationFailed as (origin, message) pairs: "rows.1.lines.0.quantity" → the line it came from."""
    found = []
    for name, message in error.errors.items():
        parts = name.split(".")
        if parts[0] != "rows" or len(parts) < 3 or not parts[1].isdigit() or int(parts[1]) >= len(batch.origins):
            found.append(("", str(message)))
            continue
        origins = batch.origins[int(parts[1])]
        origin = origins[0]
        if parts[2] == "lines" and len(parts) > 3 and parts[3].isdigit() and int(parts[3]) < len(origins):
            origin = origins[int(parts[3])]
        found.append((origin, str(message)))
    return found


# ---------------------------------------------------------------- CSV

def read_csv(data):
    """Lines of a CSV file. Raises ValidationFailed on the "file" field when it cannot be read as described."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ValidationFailed.for_fields({"file": _l("Save the file as CSV in UTF-8.")}) from None
    text = text.replace("\x00", "")
    first = text.split("\n", 1)[0]
    delimiter = ";" if first.count(";") > first.count(",") else ","
    reader = csv.DictReader(io.StringIO(text), delimiter=delimiter)
    columns = [(name or "").strip().lower() for name in reader.fieldnames or []]
    missing = [name for name in REQUIRED if name not in columns]
    if missing:
        raise ValidationFailed.for_fields({"file": _l("Missing columns: %(columns)s.", columns=", ".join(missing))})
    reader.fieldnames = columns
    lines = []
    for record in reader:
        if len(lines) >= MAX_LINES:
            raise ValidationFailed.for_fields({"file": _l("At most %(max)s lines at once.", max=MAX_LINES)})
        values = {name: (record.get(name) or "").strip() for name in (*REQUIRED, *OPTIONAL)}
        if not any(values.values()):
            continue
        seller = _by_tax_code(values["cooperative_tax_code"])
        buyer = _by_tax_code(values["enterprise_tax_code"])
        lines.append(Line(origin=str(_l("Line %(number)s", number=reader.line_num)),
                          seller_id=seller.id if seller else None, buyer_id=buyer.id if buyer else None,
                          product_id=_product_id(seller, values["product"]), values=values))
    if not lines:
        raise ValidationFailed.for_fields({"file": _l("The file has no lines.")})
    return lines


def _by_tax_code(code):
    digits = "".join(character for character in code if character.isdigit())
    if not digits:
        return None
    return db.session.scalar(sa.select(Organisation).filter_by(tax_code=digits))


def _product_id(seller, value):
    """The product's id as written, or the id of the cooperative's product of that exact name ("" if none)."""
    if value.isdigit():
        return value
    if seller is None or not value:
        return ""
    product_id = db.session.scalar(sa.select(Product.id).where(Product.cooperative_id == seller.id,
                                                               sa.func.lower(Product.name) == value.lower()))
    return str(product_id) if product_id else ""
