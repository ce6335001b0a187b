"""Use cases of the catalogue: products and their wholesale terms, OCOP certificates, publication.

Every function checks who acts (accounts.authz), validates, commits once, then notifies. The HTML
views, the JSON API, the import and the CLI all come through here, so each rule lives once.
"""
import calendar
import re
from dataclasses import dataclass, field, fields
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import selectinload

from marketplace import geo, notifications, textinput
from marketplace.accounts import events as organisation_events
from marketplace.accounts.authz import Permission, can, require
from marketplace.accounts.models import Organisation, OrganisationKind, OrganisationStatus
from marketplace.catalog import events, images
from marketplace.catalog.models import (
    CapacityPeriod,
    CatalogEvent,
    CatalogEventKind,
    Category,
    CertificateStatus,
    Certification,
    IssuingLevel,
    OcopCertificate,
    PriceTier,
    Product,
    ProductCertification,
    ProductImage,
    ProductStatus,
    Unit,
)
from marketplace.errors import Conflict, DomainError, NotFound, ValidationFailed
from marketplace.extensions import db
from marketplace.i18n import grouped
from marketplace.sqltypes import utcnow
from marketplace.text import slugify
from marketplace.unit_of_work import unit_of_work

MAX_PRICE_VND = 10**12  # a trillion đồng per unit: anything above is a typing error
MAX_QUANTITY = 10**9
MAX_TIERS = 10
CERTIFICATE_VALIDITY_MONTHS = 36  # Decision 148/QĐ-TTg: an OCOP rating is valid for 36 months
OCOP_STARS = (3, 4, 5)


def today():
    """Today's date in Vietnam: certificates expire at the end of the local day."""
    return datetime.now(ZoneInfo(current_app.config["BABEL_DEFAULT_TIMEZONE"])).date()


def add_months(day, months):
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


# ---------------------------------------------------------------- input shapes

@dataclass
class ProductDetails:
    """What a cooperative says about a product. Status and owner are never part of it."""

    name: str = ""
    name_en: str = ""
    description: str = ""
    category: str | None = None
    unit: str | None = None
    province_code: int | None = None
    commune_code: int | None = None
    base_price_vnd: int | None = None
    min_order_qty: int | None = 1
    order_increment: int | None = 1
    capacity_qty: int | None = None
    capacity_period: str | None = None
    harvest_months: list = field(default_factory=list)
    lead_time_days: int | None = None
    certifications: list = field(default_factory=list)
    tiers: list = field(default_factory=list)  # [(min_qty, unit_price_vnd), ...]

    @classmethod
    def from_mapping(cls, data):
        """Keep only known fields: extra keys (status, cooperative_id, ...) are ignored."""
        return cls(**{f.name: data[f.name] for f in fields(cls) if data.get(f.name) is not None})

    @classmethod
    def of(cls, product):
        return cls(
            name=product.name, name_en=product.name_en, description=product.description,
            category=product.category.value, unit=product.unit.value,
            province_code=product.province_code, commune_code=product.commune_code,
            base_price_vnd=product.base_price_vnd, min_order_qty=product.min_order_qty,
            order_increment=product.order_increment, capacity_qty=product.capacity_qty,
            capacity_period=product.capacity_period.value if product.capacity_period else None,
            harvest_months=product.harvest_months, lead_time_days=product.lead_time_days,
            certifications=[c.value for c in product.certifications],
            tiers=[(t.min_qty, t.unit_price_vnd) for t in product.tiers],
        )


@dataclass
class CertificateDetails:
    stars: int | None = None
    certificate_no: str = ""
    issuing_level: str = IssuingLevel.PROVINCE.value
    decision_date: date | None = None
    expires_on: date | None = None  # 36 months after the decision when not given

    @classmethod
    def from_mapping(cls, data):
        return cls(**{f.name: data[f.name] for f in fields(cls) if data.get(f.name) is not None})


# ---------------------------------------------------------------- validation

def _whole_number(value, errors, name, minimum, maximum, required=True):
    if value is None or value == "":
        if required:
            errors[name] = _l("Enter a whole number.")
        return None
    value = _as_int(value)
    if value is None:
        errors[name] = _l("Enter a whole number.")
        return None
    if not minimum <= value <= maximum:
        errors[name] = _l("Enter a number from %(min)s to %(max)s.", min=grouped(minimum),
                          max=grouped(maximum))
        return None
    return value


WHOLE_NUMBER = re.compile(r"^-?(\d+|\d{1,3}([.,]\d{3})+)$")  # "60000", "60.000" or "60,000"


def _as_int(value):
    """An int from user input; None for fractions, text and booleans ("12.5" is not 125)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() else None  # spreadsheets give 60000.0
    text = str(value).strip().replace(" ", "")
    return int(re.sub(r"[.,]", "", text)) if WHOLE_NUMBER.match(text) else None


def _choice(value, enum_class, errors, name, required=True):
    if value in (None, ""):
        if required:
            errors[name] = _l("Choose a value.")
        return None
    try:
        return enum_class(value)
    except ValueError:
        errors[name] = _l("Choose one of the listed values.")
        return None


def _text(value, errors, name, max_length, required=False, visible=False):
    """Cleaned text (textinput.clean, NUL removed). `visible`: a value given must have a letter or digit,
    as a name must (one of zero-width spaces or direction marks alone shows nothing)."""
    value = textinput.clean((value or "").replace("\x00", ""))
    if required and not value:
        errors[name] = _l("This field is required.")
    elif len(value) > max_length:
        errors[name] = _l("Use at most %(max)s characters.", max=max_length)
    elif visible and value and not textinput.has_letter_or_digit(value):
        errors[name] = textinput.NEEDS_LETTER_OR_DIGIT
    return value


def clean_product(details):
    """Validate and normalise `details`; return a dict of column values, or raise ValidationFailed."""
    errors = {}
    values = {
        "name": _text(details.name, errors, "name", 160, required=True, visible=True),
        "name_en": _text(details.name_en, errors, "name_en", 160, visible=True),
        "description": _text(details.description, errors, "description", 5000),
        "category": _choice(details.category, Category, errors, "category"),
        "unit": _choice(details.unit, Unit, errors, "unit"),
        "base_price_vnd": _whole_number(details.base_price_vnd, errors, "base_price_vnd", 1, MAX_PRICE_VND),
        "min_order_qty": _whole_number(details.min_order_qty, errors, "min_order_qty", 1, MAX_QUANTITY),
        "order_increment": _whole_number(details.order_increment, errors, "order_increment", 1, MAX_QUANTITY),
        "capacity_qty": _whole_number(details.capacity_qty, errors, "capacity_qty", 0, 10**12, required=False),
        "capacity_period": _choice(details.capacity_period, CapacityPeriod, errors, "capacity_period", required=False),
        "lead_time_days": _whole_number(details.lead_time_days, errors, "lead_time_days", 0, 365, required=False),
    }
    if values["capacity_qty"] is not None and values["capacity_period"] is None and "capacity_period" not in errors:
        errors["capacity_period"] = _l("Say whether the capacity is stock on hand or per week, month, season or year.")
    if values["capacity_qty"] is None:
        values["capacity_period"] = None
    moq, step = values["min_order_qty"], values["order_increment"]
    if moq and step and moq % step:
        errors["order_increment"] = _l("The minimum order must be a multiple of the order increment.")
    values.update(_clean_origin(details, errors))
    values["harvest_month_mask"] = _clean_months(details.harvest_months, errors)
    values["certifications"] = _clean_certifications(details.certifications, errors)
    values["tiers"] = _clean_tiers(details.tiers, values["base_price_vnd"], moq, errors)
    if errors:
        raise ValidationFailed.for_fields(errors)
    return values


def _clean_origin(details, errors):
    province = _whole_number(details.province_code, errors, "province_code", 1, 10**6, required=False)
    commune = _whole_number(details.commune_code, errors, "commune_code", 1, 10**8, required=False)
    if province is not None and not geo.province_name(province):
        errors["province_code"] = _l("Choose a province from the list.")
    elif commune is not None and (province is None or not geo.is_valid_location(province, commune)):
        errors["commune_code"] = _l("Choose a commune of the chosen province.")
    return {"province_code": province, "commune_code": commune}


def _clean_months(months, errors):
    try:
        numbers = {int(m) for m in months or []}
    except (TypeError, ValueError):
        numbers = {0}
    if not numbers <= set(range(1, 13)):
        errors["harvest_months"] = _l("Months are numbers from 1 to 12.")
        return 0
    return Product.month_mask(numbers)


def _clean_certifications(codes, errors):
    try:
        return sorted({Certification(c) for c in codes or []})
    except ValueError:
        errors["certifications"] = _l("Choose certifications from the list.")
        return []


def _clean_tiers(rows, base_price, moq, errors):
    """Tiers are volume prices: thresholds above the minimum order, each cheaper than the one before."""
    tiers = []
    for row in rows or []:
        try:
            min_qty, price = row
        except (TypeError, ValueError):
            errors["tiers"] = _l("Give each tier as a quantity and a unit price.")
            return []
        if min_qty in (None, "") and price in (None, ""):
            continue  # an empty row of the form
        tier_errors = {}
        min_qty = _whole_number(min_qty, tier_errors, "min_qty", 1, MAX_QUANTITY)
        price = _whole_number(price, tier_errors, "price", 1, MAX_PRICE_VND)
        if tier_errors:
            errors["tiers"] = _l("Each tier needs a whole quantity and a unit price in đồng.")
            return []
        tiers.append((min_qty, price))
    tiers.sort()
    if len(tiers) > MAX_TIERS:
        errors["tiers"] = _l("Use at most %(max)s price tiers.", max=MAX_TIERS)
    elif len({q for q, _ in tiers}) != len(tiers):
        errors["tiers"] = _l("Two tiers start at the same quantity.")
    elif moq and tiers and tiers[0][0] <= moq:
        errors["tiers"] = _l("Tiers start above the minimum order quantity (%(moq)s); the base price applies from it.",
                             moq=moq)
    elif base_price and any(p >= previous for (_, p), previous in
                            zip(tiers, [base_price] + [p for _, p in tiers])):
        errors["tiers"] = _l("Each tier's unit price must be lower than the base price and the tier before it.")
    return tiers


# ---------------------------------------------------------------- products (the cooperative's workspace)

def _unique_slug(cooperative_id, name, product_id=None):
    base = slugify(name)
    slug, counter = base, 2
    while db.session.scalar(db.select(Product.id).where(
            Product.cooperative_id == cooperative_id, Product.slug == slug, Product.id != (product_id or 0))):
        slug, counter = f"{base}-{counter}", counter + 1
    return slug


def _apply(product, values):
    """Copy cleaned values onto the product; tiers and certifications are replaced as a whole."""
    tiers, certifications = values.pop("tiers"), values.pop("certifications")
    for name, value in values.items():
        setattr(product, name, value)
    # Keep the rows of thresholds that stay: the unit of work inserts before it deletes, so a new row
    # with an old row's min_qty would break the (product_id, min_qty) unique constraint.
    current_tiers = {tier.min_qty: tier for tier in product.tiers}
    product.tiers = [current_tiers.get(q) or PriceTier(min_qty=q) for q, _p in tiers]
    for tier, (_q, price) in zip(product.tiers, tiers):
        tier.unit_price_vnd = price
    current = {row.code: row for row in product.certification_rows}
    product.certification_rows = [current.get(code) or ProductCertification(code=code) for code in certifications]


@unit_of_work()
def create_product(actor, details, cooperative=None):
    """Create a draft product of the actor's cooperative. Raises ValidationFailed listing bad fields."""
    cooperative = cooperative or actor.organisation
    require(actor, Permission.MANAGE_PRODUCTS, cooperative)
    values = clean_product(details)
    product = Product(cooperative=cooperative, status=ProductStatus.DRAFT,
                      slug=_unique_slug(cooperative.id, values["name"]))
    _apply(product, values)
    db.session.add(product)
    events.product_created(product, actor)
    return product


@unit_of_work()
def update_product(actor, product_id, details):
    product = get_own_product(actor, product_id)
    values = clean_product(details)
    if values["name"] != product.name:
        product.slug = _unique_slug(product.cooperative_id, values["name"], product.id)
    _apply(product, values)
    events.product_updated(product, actor)
    return product


def _check_publishable(product):
    missing = product.missing_for_publication()
    if missing:
        raise Conflict(_l("To publish, the product still needs: %(missing)s.",
                          missing=", ".join(str(m) for m in missing)), code="not_publishable")


@unit_of_work()
def publish_product(actor, product_id):
    """Put a product in the public catalogue. Only a verified cooperative publishes a complete product."""
    product = get_own_product(actor, product_id)
    require(actor, Permission.PUBLISH_PRODUCTS, product.cooperative)
    _check_publishable(product)
    if product.status != ProductStatus.PUBLISHED:
        product.status = ProductStatus.PUBLISHED
        product.published_at = product.published_at or utcnow()
        events.product_published(product, actor)
    return product


@unit_of_work()
def hide_product(actor, product_id):
    product = get_own_product(actor, product_id)
    if product.status == ProductStatus.PUBLISHED:
        product.status = ProductStatus.HIDDEN
        events.product_hidden(product, actor)
    return product


@unit_of_work()
def delete_product(actor, product_id):
    """Delete a product with its tiers, photos and certificates (their files go too).

    Its history stays with the cooperative: the events lose their link to the deleted rows (what ON
    DELETE SET NULL does on PostgreSQL; SQLite does not enforce foreign keys here), and a last event
    names the product (see `deleted_products`).
    """
    product = get_own_product(actor, product_id)
    stored = [image.stored_name for image in product.images]
    scans = [c.scan_name for c in product.certificates if c.scan_name]
    db.session.execute(db.update(CatalogEvent).where(CatalogEvent.product_id == product.id)
                       .values(product_id=None, certificate_id=None))
    events.product_deleted(product, actor)
    db.session.delete(product)
    images.discard_after_commit(stored, scans)


def get_own_product(actor, product_id):
    """A product of the actor's cooperative. Raises NotFound for another cooperative's product."""
    product = db.session.get(Product, product_id)
    if product is None:
        raise NotFound()
    require(actor, Permission.MANAGE_PRODUCTS, product.cooperative)
    return product


def own_products(actor, status=None, page=1, per_page=20):
    require(actor, Permission.MANAGE_PRODUCTS)
    statement = db.select(Product).where(Product.cooperative_id == actor.organisation_id)
    if status in {s.value for s in ProductStatus}:
        statement = statement.where(Product.status == status)
    statement = statement.order_by(Product.updated_at.desc(), Product.id.desc()).options(
        # What a list shows of each product, in a fixed number of queries (the API lists up to 100).
        selectinload(Product.tiers), selectinload(Product.images), selectinload(Product.certificates),
        selectinload(Product.certification_rows))
    return db.paginate(statement, page=max(page, 1), per_page=per_page, error_out=False)


@dataclass(frozen=True)
class Contact:
    representative: str
    phone: str
    email: str
    address: str  # street, commune, province: the parts the cooperative gave


def cooperative_contact(viewer, cooperative):
    """How to reach a cooperative (representative, phone, email, address), for members of verified organisations
    only: None for visitors and for organisations not verified (yet), so scrapers and unchecked registrations do
    not harvest the cooperatives' phones and emails."""
    if not can(viewer, Permission.SEE_CONTACTS):
        return None
    parts = (cooperative.street_address, cooperative.commune_name, cooperative.province_name)
    return Contact(cooperative.representative, cooperative.phone, cooperative.email,
                   ", ".join(part for part in parts if part))


EXPIRY_WARNING_DAYS = 90  # a cooperative's home lists its OCOP certificates expiring within this many days


@dataclass
class HomeCatalog:
    """What a cooperative's home lists of its products."""

    unpublished: list  # [(Product, [why it is not in the catalogue, or what buyers miss])]
    unpublished_total: int
    expiring: list  # [OcopCertificate] verified, expiring within EXPIRY_WARNING_DAYS (or already past), soonest first


def for_home(actor, on=None, limit=5):
    """The actor's cooperative's products that are not in the catalogue (drafts and hidden ones), each with what
    blocks its publication (Product.missing_for_publication) or, when nothing does, what buyers look for and it
    lacks, and its certificates expiring soon. Raises Forbidden for an organisation that is not a cooperative.
    Four queries, whatever the number of products (photos and certificates loaded with the rows)."""
    require(actor, Permission.MANAGE_PRODUCTS)
    on = on or today()
    own = actor.organisation_id
    hidden = db.and_(Product.cooperative_id == own, Product.status != ProductStatus.PUBLISHED)
    total = db.session.scalar(db.select(db.func.count()).select_from(Product).where(hidden)) or 0
    products = db.session.scalars(
        db.select(Product).where(hidden).options(selectinload(Product.images), selectinload(Product.certificates))
        .order_by(Product.updated_at.desc(), Product.id.desc()).limit(limit)).all() if total else []
    unpublished = [(p, p.missing_for_publication() or p.recommendations(on)) for p in products]
    expiring = db.session.scalars(
        db.select(OcopCertificate).join(Product, Product.id == OcopCertificate.product_id)
        .where(Product.cooperative_id == own, OcopCertificate.status == CertificateStatus.VERIFIED,
               OcopCertificate.expires_on <= on + timedelta(days=EXPIRY_WARNING_DAYS))
        .options(selectinload(OcopCertificate.product))
        .order_by(OcopCertificate.expires_on, OcopCertificate.id).limit(limit)).all()
    return HomeCatalog(unpublished, total, expiring)


def product_events(actor, product):
    require(actor, Permission.MANAGE_PRODUCTS, product.cooperative)
    return db.session.scalars(db.select(CatalogEvent).where(CatalogEvent.product_id == product.id)
                              .order_by(CatalogEvent.id.desc()).limit(50)).all()


def deleted_products(actor, limit=20):
    """The latest deletions of the actor's cooperative's products (events whose note is the product's
    name), for the product list: the one place a deleted product is still mentioned."""
    require(actor, Permission.MANAGE_PRODUCTS)
    return db.session.scalars(db.select(CatalogEvent).where(
        CatalogEvent.cooperative_id == actor.organisation_id, CatalogEvent.kind == CatalogEventKind.DELETED,
    ).order_by(CatalogEvent.id.desc()).limit(limit)).all()


# ---------------------------------------------------------------- photos

MAX_PHOTOS = 8


def add_photos(actor, product_id, uploads):
    """Store uploaded photos (the first ever becomes the cover). Every file's header is checked before
    any is decoded, and every file is stored before any row is written: one bad file rejects the batch
    with its name, having decoded nothing if its header is bad, and no file of it is left on disk.
    Raises ValidationFailed on "photos"."""
    stored = []
    try:
        with unit_of_work():
            product = get_own_product(actor, product_id)
            uploads = [u for u in uploads if u and getattr(u, "filename", "")]
            limits = images.configured_limits()
            if not uploads:
                raise ValidationFailed.for_fields({"photos": _l("Choose at least one photo.")})
            if len(uploads) > limits.max_files:
                raise ValidationFailed.for_fields({"photos": _l("Send at most %(max)s files at once.",
                                                                max=limits.max_files)})
            if len(product.images) + len(uploads) > MAX_PHOTOS:
                raise ValidationFailed.for_fields({"photos": _l("A product has at most %(max)s photos.",
                                                                max=MAX_PHOTOS)})
            inspected = [_naming_the_file(upload, images.inspect, upload, "photos", limits=limits)
                         for upload in uploads]
            images.check_together(inspected, "photos", limits)
            for upload, item in zip(uploads, inspected):
                stored.append(_naming_the_file(upload, images.store_photo, item, "photos"))
            position = max((i.position for i in product.images), default=-1) + 1
            for offset, (name, width, height) in enumerate(stored):
                product.images.append(ProductImage(stored_name=name, width=width, height=height,
                                                   position=position + offset, alt_text=product.name[:200]))
            events.photos_added(product, actor, [upload.filename for upload in uploads])
            product.updated_at = utcnow()
    except BaseException:
        images.discard_files([name for name, _w, _h in stored], [])  # never committed: remove them now
        raise
    return product


def _naming_the_file(upload, function, *arguments, **keywords):
    """function(*arguments, **keywords); its ValidationFailed on "photos" names the upload's file."""
    try:
        return function(*arguments, **keywords)
    except ValidationFailed as error:
        raise ValidationFailed.for_fields({"photos": _l("%(file)s: %(problem)s", file=upload.filename[:80],
                                                        problem=error.errors["photos"])}) from None


@unit_of_work()
def remove_photo(actor, product_id, image_id):
    product = get_own_product(actor, product_id)
    image = _photo_of(product, image_id)
    name = image.stored_name
    product.images.remove(image)
    _renumber(product.images)
    product.updated_at = utcnow()
    events.photo_removed(product, actor)
    images.discard_after_commit([name], [])
    return product


@unit_of_work()
def make_cover(actor, product_id, image_id):
    product = get_own_product(actor, product_id)
    image = _photo_of(product, image_id)
    if image is not product.cover:
        _renumber([image] + [i for i in product.images if i is not image])
        product.updated_at = utcnow()
        events.cover_photo_changed(product, actor)
    return product


def _photo_of(product, image_id):
    """The product's photo with this id; NotFound for a photo of another product."""
    image = next((i for i in product.images if i.id == image_id), None)
    if image is None:
        raise NotFound()
    return image


def _renumber(ordered):
    for position, image in enumerate(ordered):
        image.position = position


# ---------------------------------------------------------------- OCOP certificates

def issuing_level_for(stars):
    """Who rates an OCOP product with `stars` (3 to 5): the province's People's Committee for 3 and 4 stars,
    the central level (Trung ương) for 5; the form's hint and the import say the same."""
    return IssuingLevel.CENTRAL if stars == 5 else IssuingLevel.PROVINCE


def clean_certificate(details):
    """The cleaned values of a certificate; raises ValidationFailed naming each bad field, among them an
    issuing level that does not agree with the stars (issue 13: a 4-star "Trung ương" was accepted)."""
    errors = {}
    stars = _whole_number(details.stars, errors, "stars", 3, 5)
    number = _text(details.certificate_no, errors, "certificate_no", 80, required=True, visible=True)
    level = _choice(details.issuing_level, IssuingLevel, errors, "issuing_level")
    decision, expiry = details.decision_date, details.expires_on
    if decision is None and expiry is None:
        errors["decision_date"] = _l("Enter the decision date (or the expiry date).")
    elif expiry is None:
        expiry = add_months(decision, CERTIFICATE_VALIDITY_MONTHS)
    if decision and expiry and expiry <= decision:
        errors["expires_on"] = _l("The expiry date must be after the decision date.")
    if stars is not None and level is not None and level != issuing_level_for(stars):
        errors["issuing_level"] = (_l("Five-star OCOP ratings are issued at central level.") if stars == 5 else
                                   _l("Three- and four-star OCOP ratings are issued by the province."))
    if errors:
        raise ValidationFailed.for_fields(errors)
    return {"stars": stars, "certificate_no": number, "issuing_level": level,
            "decision_date": decision, "expires_on": expiry}


@unit_of_work()
def add_certificate(actor, product_id, details, scan=None):
    """Record an OCOP certificate for the alliance to verify. `scan` is an uploaded file or None."""
    product = get_own_product(actor, product_id)
    values = clean_certificate(details)
    if values["expires_on"] < today():
        raise ValidationFailed.for_fields({"expires_on": _l("This certificate has already expired.")})
    scan_name = images.store_scan(scan) if scan else None  # validates; raises ValidationFailed
    certificate = OcopCertificate(product=product, scan_name=scan_name, status=CertificateStatus.PENDING, **values)
    db.session.add(certificate)
    events.certificate_added(certificate, actor)
    return certificate


@unit_of_work()
def withdraw_certificate(actor, certificate_id):
    """The cooperative takes back a certificate the alliance has not reviewed yet."""
    certificate = db.session.get(OcopCertificate, certificate_id)
    if certificate is None:
        raise NotFound()
    get_own_product(actor, certificate.product_id)
    if certificate.status != CertificateStatus.PENDING:
        raise Conflict(_l("Only certificates waiting for the alliance can be withdrawn."), code="not_pending")
    scan = certificate.scan_name
    db.session.execute(db.update(CatalogEvent).where(CatalogEvent.certificate_id == certificate.id)
                       .values(certificate_id=None))  # ON DELETE SET NULL, on SQLite too
    events.certificate_withdrawn(certificate, actor)
    db.session.delete(certificate)
    images.discard_after_commit([], [scan] if scan else [])


def certificate_for_viewer(actor, certificate_id):
    """A certificate its cooperative or the alliance may see (for the scan download)."""
    certificate = db.session.get(OcopCertificate, certificate_id)
    if certificate is None:
        raise NotFound()
    if not (actor.is_authenticated and actor.organisation.is_alliance):
        get_own_product(actor, certificate.product_id)
    return certificate


def certificates_to_review(actor, status=CertificateStatus.PENDING.value, page=1, per_page=20):
    require(actor, Permission.CURATE_CATALOG)
    statement = (db.select(OcopCertificate).join(OcopCertificate.product)
                 .options(selectinload(OcopCertificate.product).selectinload(Product.cooperative)))
    if status in {s.value for s in CertificateStatus}:
        statement = statement.where(OcopCertificate.status == status)
    statement = statement.order_by(OcopCertificate.created_at, OcopCertificate.id)
    return db.paginate(statement, page=max(page, 1), per_page=per_page, error_out=False)


def count_certificates_to_review(actor):
    require(actor, Permission.CURATE_CATALOG)
    return db.session.scalar(db.select(db.func.count(OcopCertificate.id))
                             .where(OcopCertificate.status == CertificateStatus.PENDING))


def get_certificate(actor, certificate_id):
    require(actor, Permission.CURATE_CATALOG)
    certificate = db.session.get(OcopCertificate, certificate_id)
    if certificate is None:
        raise NotFound()
    return certificate


VERIFY_NOTE_MAX = 2000


@unit_of_work()
def verify_certificate(actor, certificate_id, note=""):
    """Verify a pending, unexpired certificate. `note` says what was checked; it is required when the
    cooperative uploaded no scan (issue 13: a certificate could be verified on nothing), optional otherwise,
    and kept as the certificate's `status_reason` and the event's note.
    Raises ValidationFailed (field "note"), Conflict (not_verifiable)."""
    certificate = get_certificate(actor, certificate_id)
    if not certificate.can_be_verified(today()):
        raise Conflict(_l("Only unexpired certificates waiting for verification can be verified."),
                       code="not_verifiable")
    note = textinput.clean(note or "")
    if not certificate.scan_name and not textinput.has_letter_or_digit(note):
        raise ValidationFailed.for_fields({"note": _l(
            "There is no scan: say what you checked (e.g. the provincial decision and its number).")})
    if len(note) > VERIFY_NOTE_MAX:
        raise ValidationFailed.for_fields({"note": _l("Use at most %(max)s characters.", max=VERIFY_NOTE_MAX)})
    _set_certificate_status(certificate, CertificateStatus.VERIFIED, actor, note)
    events.certificate_verified(certificate, actor)
    _notify_certificate(certificate)
    return certificate


@unit_of_work()
def revoke_certificate(actor, certificate_id, reason):
    """Withdraw a certificate (pending or verified) with a reason the cooperative will read."""
    certificate = get_certificate(actor, certificate_id)
    reason = textinput.clean(reason)
    if not textinput.has_letter_or_digit(reason):
        raise ValidationFailed.for_fields({"reason": _l("Give the reason: the cooperative will read it.")})
    if len(reason) > 2000:
        raise ValidationFailed.for_fields({"reason": _l("Use at most %(max)s characters.", max=2000)})
    if not certificate.can_be_revoked():
        raise Conflict(_l("This certificate is already revoked or expired."), code="not_revocable")
    _set_certificate_status(certificate, CertificateStatus.REVOKED, actor, reason)
    events.certificate_revoked(certificate, actor)
    _notify_certificate(certificate)
    return certificate


def _set_certificate_status(certificate, status, actor, reason):
    certificate.status = status
    certificate.status_reason = reason
    certificate.reviewed_by = actor
    certificate.reviewed_at = utcnow()
    # The certificate changes what the product page and the search index show.
    certificate.product.updated_at = utcnow()


@unit_of_work()
def expire_certificates(on=None):
    """Mark certificates past their expiry date as expired and tell the cooperatives whose badge goes.

    Idempotent: run daily by `flask catalog expire-certificates`. Returns the expired certificates.
    """
    on = on or today()
    due = db.session.scalars(db.select(OcopCertificate).where(
        OcopCertificate.status.in_([CertificateStatus.PENDING, CertificateStatus.VERIFIED]),
        OcopCertificate.expires_on < on,
    ).order_by(OcopCertificate.id)).all()
    had_badge = [c for c in due if c.status == CertificateStatus.VERIFIED]
    for certificate in due:
        certificate.status = CertificateStatus.EXPIRED
        certificate.product.updated_at = utcnow()
        events.certificate_expired(certificate)
    for certificate in had_badge:
        _notify_certificate(certificate)
    return due


_CERTIFICATE_MAIL_SUBJECTS = {
    CertificateStatus.VERIFIED: _l("Your OCOP certificate is verified"),
    CertificateStatus.REVOKED: _l("Your OCOP certificate was revoked: the badge is no longer shown"),
    CertificateStatus.EXPIRED: _l("Your OCOP certificate has expired: the badge is no longer shown"),
}


def _notify_certificate(certificate):
    subject = _CERTIFICATE_MAIL_SUBJECTS[certificate.status]
    product = certificate.product
    for member in product.cooperative.members:
        if member.is_active and member.is_owner:
            notifications.send(member.email, subject, "certificate_status", member.locale,
                               certificate=certificate, product=product, user=member,
                               link=notifications.link("catalog.edit_product", product_id=product.id))


# ---------------------------------------------------------------- the alliance's import path

@unit_of_work()
def cooperative_for_import(actor, name, tax_code, cooperative_type, province_code=None, commune_code=None):
    """The cooperative with this tax code, or a new verified one (the alliance vouches for its registry)."""
    require(actor, Permission.CURATE_CATALOG)
    existing = db.session.scalar(db.select(Organisation).where(Organisation.tax_code == tax_code))
    if existing is not None:
        if not existing.is_cooperative:
            raise DomainError(_l("This tax code belongs to an organisation that is not a cooperative."),
                              code="not_a_cooperative", field="cooperative_tax_code")
        return existing
    name = textinput.clean(name)
    if not textinput.has_letter_or_digit(name):
        raise DomainError(textinput.NEEDS_LETTER_OR_DIGIT, code="validation_failed", field="cooperative_name")
    cooperative = Organisation(
        kind=OrganisationKind.COOPERATIVE, cooperative_type=cooperative_type, legal_name=name,
        tax_code=tax_code, province_code=province_code, commune_code=commune_code,
        status=OrganisationStatus.VERIFIED, status_changed_at=utcnow(),
    )
    db.session.add(cooperative)
    organisation_events.cooperative_imported(cooperative, actor)
    return cooperative


@unit_of_work()
def import_product(actor, cooperative, details, certificate=None, publish=False):
    """Create or update one imported product, matched by its name within the cooperative; `publish`
    publishes it when it is new or a draft, never when it is hidden.

    Joins the import's unit of work: an import writes all its rows in one transaction. The alliance imports for any
    cooperative (its OCOP certificates are verified: the registry is the alliance's own); a
    cooperative imports only its own products, and its certificates wait for the alliance.
    Returns (product, created). Raises ValidationFailed (fields of ProductDetails/CertificateDetails).
    """
    by_alliance = actor.organisation.is_alliance
    require(actor, Permission.CURATE_CATALOG if by_alliance else Permission.MANAGE_PRODUCTS,
            None if by_alliance else cooperative)
    values = clean_product(details)
    certificate_values = clean_certificate(certificate) if certificate else None
    product = None
    if cooperative.id is not None:
        product = db.session.scalar(db.select(Product).where(
            Product.cooperative_id == cooperative.id, Product.slug == slugify(values["name"])))
    created = product is None
    if created:
        product = Product(cooperative=cooperative, status=ProductStatus.DRAFT, slug=slugify(values["name"]))
        db.session.add(product)
    _apply(product, values)
    if certificate_values:
        _import_certificate(product, certificate_values, actor if by_alliance else None)
    # `publish` puts new products and drafts in the catalogue, never one its cooperative hid (issue 13: a
    # product hidden out of season came back with "publish valid rows").
    if publish and product.status == ProductStatus.DRAFT and not product.missing_for_publication():
        product.status = ProductStatus.PUBLISHED
        product.published_at = product.published_at or utcnow()
    db.session.flush()
    events.product_imported(product, actor)
    return product, created


def _import_certificate(product, values, verifier):
    existing = next((c for c in product.certificates if c.certificate_no == values["certificate_no"]), None)
    if existing is not None and existing.status in (CertificateStatus.REVOKED, CertificateStatus.EXPIRED):
        return  # a re-import must not bring back a badge the alliance or time took away
    if existing is not None and existing.status == CertificateStatus.VERIFIED and verifier is None:
        return  # only the alliance changes a verified certificate (a cooperative could extend its badge)
    certificate = existing or OcopCertificate(product=product, status=CertificateStatus.PENDING)
    for name, value in values.items():
        setattr(certificate, name, value)
    if verifier is not None and certificate.status == CertificateStatus.PENDING and values["expires_on"] >= today():
        certificate.status = CertificateStatus.VERIFIED
        certificate.reviewed_by = verifier
        certificate.reviewed_at = utcnow()
    if existing is None:
        db.session.add(certificate)
