"""Products of cooperatives, their OCOP certificates, wholesale price tiers and photos."""
import enum
from datetime import date, datetime

import sqlalchemy as sa
from babel import numbers
from flask_babel import get_locale, ngettext
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Mapped, mapped_column, relationship

from marketplace import geo
from marketplace.accounts.models import LABELS, Organisation, OrganisationStatus, User, enum_column
from marketplace.extensions import db
from marketplace.sqltypes import UTCDateTime, utcnow


class Category(enum.StrEnum):
    """The fixed, translatable product categories (codes are used by import files and the API)."""

    FRESH_PRODUCE = "fresh_produce"  # rau, củ, quả tươi
    PROCESSED_FOOD = "processed_food"  # thực phẩm chế biến
    BEVERAGES = "beverages"  # đồ uống: chè, rượu, nước ép
    SPICES_HERBS = "spices_herbs"  # gia vị: hồi, quế
    MEDICINAL_HERBS = "medicinal_herbs"  # dược liệu
    AQUATIC = "aquatic"  # thủy sản
    HANDICRAFTS = "handicrafts"  # thủ công mỹ nghệ
    OTHER = "other"


class Unit(enum.StrEnum):
    """Units of sale. Quantities are whole numbers of the unit."""

    KG = "kg"
    TAN = "tan"  # tấn (1,000 kg)
    HOP = "hop"  # hộp (box)
    CHAI = "chai"  # chai (bottle)
    THUNG = "thung"  # thùng (carton)
    TUI = "tui"  # túi (bag)
    LIT = "lit"  # lít
    CAI = "cai"  # cái (piece)
    BO = "bo"  # bó (bundle)
    QUA = "qua"  # quả (fruit, piece)


class Certification(enum.StrEnum):
    VIETGAP = "vietgap"
    GLOBALGAP = "globalgap"
    ORGANIC = "organic"  # hữu cơ (TCVN 11041, EU, USDA)
    GEOGRAPHICAL_INDICATION = "geographical_indication"  # chỉ dẫn địa lý
    HACCP = "haccp"
    ISO_22000 = "iso_22000"


class ProductStatus(enum.StrEnum):
    DRAFT = "draft"  # being prepared; only the cooperative sees it
    PUBLISHED = "published"  # in the public catalogue (while the cooperative is verified)
    HIDDEN = "hidden"  # was published, taken out of the catalogue by the cooperative


class CapacityPeriod(enum.StrEnum):
    """What the capacity figure means: stock on hand, or what can be produced per period."""

    STOCK = "stock"
    WEEK = "week"
    MONTH = "month"
    SEASON = "season"
    YEAR = "year"


class IssuingLevel(enum.StrEnum):
    PROVINCE = "province"  # UBND tỉnh: 3 and 4 stars
    CENTRAL = "central"  # Trung ương: 5 stars


class CertificateStatus(enum.StrEnum):
    PENDING = "pending"  # entered by the cooperative, waiting for the alliance
    VERIFIED = "verified"  # checked by the alliance: the badge shows until expiry
    REVOKED = "revoked"  # the alliance withdrew it (reason kept)
    EXPIRED = "expired"  # past its expiry date (set by `flask catalog expire-certificates`)


class CatalogEventKind(enum.StrEnum):
    """What happened to a product or an OCOP certificate (catalog/events.py writes each)."""

    CREATED = "created"  # a draft, in the workspace or through the API
    UPDATED = "updated"  # the wholesale terms or the description were saved
    PUBLISHED = "published"
    HIDDEN = "hidden"
    IMPORTED = "imported"  # created or updated by a spreadsheet import
    DELETED = "deleted"  # with its photos and certificates (note: the product's name; product_id is NULL)
    PHOTOS_ADDED = "photos_added"  # note: the uploads' file names
    PHOTO_REMOVED = "photo_removed"
    COVER_PHOTO_CHANGED = "cover_photo_changed"  # another photo became the first
    CERTIFICATE_ADDED = "certificate_added"  # note: stars and number; waits for the alliance
    CERTIFICATE_WITHDRAWN = "certificate_withdrawn"  # the cooperative took back a pending one (note: stars, number)
    CERTIFICATE_VERIFIED = "certificate_verified"  # by the alliance
    CERTIFICATE_REVOKED = "certificate_revoked"  # by the alliance (note: the reason)
    CERTIFICATE_EXPIRED = "certificate_expired"  # past its expiry date (no actor)


LABELS.update({
    Category.FRESH_PRODUCE: _l("Fresh produce"),
    Category.PROCESSED_FOOD: _l("Processed food"),
    Category.BEVERAGES: _l("Beverages"),
    Category.SPICES_HERBS: _l("Spices and herbs"),
    Category.MEDICINAL_HERBS: _l("Medicinal herbs"),
    Category.AQUATIC: _l("Aquatic products"),
    Category.HANDICRAFTS: _l("Handicrafts"),
    Category.OTHER: _l("Other products"),
})
LABELS.update({
    Unit.KG: _l("kg"),
    Unit.TAN: _l("tonne"),
    Unit.HOP: _l("box"),
    Unit.CHAI: _l("bottle"),
    Unit.THUNG: _l("carton"),
    Unit.TUI: _l("bag"),
    Unit.LIT: _l("litre"),
    Unit.CAI: _l("piece"),
    Unit.BO: _l("bundle"),
    Unit.QUA: _l("fruit"),
})
LABELS.update({
    Certification.VIETGAP: _l("VietGAP"),
    Certification.GLOBALGAP: _l("GlobalG.A.P."),
    Certification.ORGANIC: _l("Organic"),
    Certification.GEOGRAPHICAL_INDICATION: _l("Geographical indication"),
    Certification.HACCP: _l("HACCP"),
    Certification.ISO_22000: _l("ISO 22000"),
})
LABELS.update({
    ProductStatus.DRAFT: _l("Draft"),
    ProductStatus.PUBLISHED: _l("Published"),
    ProductStatus.HIDDEN: _l("Hidden"),
})
LABELS.update({
    CapacityPeriod.STOCK: _l("in stock"),
    CapacityPeriod.WEEK: _l("per week"),
    CapacityPeriod.MONTH: _l("per month"),
    CapacityPeriod.SEASON: _l("per season"),
    CapacityPeriod.YEAR: _l("per year"),
})
LABELS.update({
    IssuingLevel.PROVINCE: _l("Provincial People's Committee"),
    IssuingLevel.CENTRAL: _l("Central (Prime Minister's programme)"),
})
LABELS.update({
    CertificateStatus.PENDING: _l("Waiting for the alliance"),
    CertificateStatus.VERIFIED: _l("Verified"),
    CertificateStatus.REVOKED: _l("Revoked"),
    CertificateStatus.EXPIRED: _l("Expired"),
})
LABELS.update({
    CatalogEventKind.CREATED: _l("Product created"),
    CatalogEventKind.UPDATED: _l("Product updated"),
    CatalogEventKind.PUBLISHED: _l("Published"),
    CatalogEventKind.HIDDEN: _l("Hidden"),
    CatalogEventKind.IMPORTED: _l("Imported"),
    CatalogEventKind.DELETED: _l("Product deleted"),
    CatalogEventKind.PHOTOS_ADDED: _l("Photos added"),
    CatalogEventKind.PHOTO_REMOVED: _l("Photo removed"),
    CatalogEventKind.COVER_PHOTO_CHANGED: _l("Cover photo changed"),
    CatalogEventKind.CERTIFICATE_ADDED: _l("OCOP certificate added"),
    CatalogEventKind.CERTIFICATE_WITHDRAWN: _l("OCOP certificate withdrawn"),
    CatalogEventKind.CERTIFICATE_VERIFIED: _l("OCOP certificate verified"),
    CatalogEventKind.CERTIFICATE_REVOKED: _l("OCOP certificate revoked"),
    CatalogEventKind.CERTIFICATE_EXPIRED: _l("OCOP certificate expired"),
})

# Vietnamese unit names as written on labels and in import files.
UNIT_NAMES_VI = {
    Unit.KG: "kg", Unit.TAN: "tấn", Unit.HOP: "hộp", Unit.CHAI: "chai", Unit.THUNG: "thùng",
    Unit.TUI: "túi", Unit.LIT: "lít", Unit.CAI: "cái", Unit.BO: "bó", Unit.QUA: "quả",
}

# A quantity with its unit, agreeing in number ("1 fruit", "100 fruits"): one plural message per unit, since
# languages inflect each unit differently. `quantity` is the number as formatted for the locale ("1,000"), `n`
# picks the plural form (flask_babel's own `num` would be shown unformatted). Each entry takes the ngettext to
# call (named so, so that Babel extracts the messages): flask_babel's, or _untranslated below.
_QUANTITY_IN_UNIT = {
    Unit.KG: lambda ngettext, n, quantity: ngettext("%(quantity)s kg", "%(quantity)s kg", n, quantity=quantity),
    Unit.TAN: lambda ngettext, n, quantity: ngettext("%(quantity)s tonne", "%(quantity)s tonnes", n,
                                                     quantity=quantity),
    Unit.HOP: lambda ngettext, n, quantity: ngettext("%(quantity)s box", "%(quantity)s boxes", n, quantity=quantity),
    Unit.CHAI: lambda ngettext, n, quantity: ngettext("%(quantity)s bottle", "%(quantity)s bottles", n,
                                                      quantity=quantity),
    Unit.THUNG: lambda ngettext, n, quantity: ngettext("%(quantity)s carton", "%(quantity)s cartons", n,
                                                       quantity=quantity),
    Unit.TUI: lambda ngettext, n, quantity: ngettext("%(quantity)s bag", "%(quantity)s bags", n, quantity=quantity),
    Unit.LIT: lambda ngettext, n, quantity: ngettext("%(quantity)s litre", "%(quantity)s litres", n,
                                                     quantity=quantity),
    Unit.CAI: lambda ngettext, n, quantity: ngettext("%(quantity)s piece", "%(quantity)s pieces", n,
                                                     quantity=quantity),
    Unit.BO: lambda ngettext, n, quantity: ngettext("%(quantity)s bundle", "%(quantity)s bundles", n,
                                                    quantity=quantity),
    Unit.QUA: lambda ngettext, n, quantity: ngettext("%(quantity)s fruit", "%(quantity)s fruits", n,
                                                     quantity=quantity),
}


def _untranslated(singular, plural, n, **variables):
    return (singular if n == 1 else plural) % variables


def quantity_in_unit(quantity, unit, ngettext=ngettext, locale=None):
    """"100 fruits", "1 fruit", "5 litres" (English), "100 quả" (Vietnamese): a whole quantity and its unit (a Unit
    or its code, as order and agreement lines keep it), the unit agreeing with the number. An unknown code is
    shown as it is. A language whose catalogue lacks the message gets the number and the unit's label ("2 tấn"),
    never the English words. A list of cards passes its `ngettext` and `locale`, looked up once (cards.py)."""
    locale = locale or get_locale()
    number = numbers.format_decimal(quantity, locale=locale)
    try:
        unit = Unit(unit)
    except ValueError:
        return f"{number} {unit}"
    message = _QUANTITY_IN_UNIT[unit]
    text = message(ngettext, int(quantity), number)
    if text == message(_untranslated, int(quantity), number) and not str(locale).startswith("en"):
        return f"{number} {LABELS[unit]}"
    return text


class Product(db.Model):
    __tablename__ = "product"
    __table_args__ = (
        sa.UniqueConstraint("cooperative_id", "slug"),
        sa.Index("ix_product_public", "status", "category"),
        # The catalogue's default order and its order by name, read from an index instead of sorting every
        # public product for one page (issue 14; docs/benchmarks.md).
        sa.Index("ix_product_newest", "status", "published_at", "id"),
        sa.Index("ix_product_name", "status", "name", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    cooperative_id: Mapped[int] = mapped_column(sa.ForeignKey("organisation.id"), index=True)
    name: Mapped[str] = mapped_column(sa.String(160))  # Vietnamese
    name_en: Mapped[str] = mapped_column(sa.String(160), default="")
    slug: Mapped[str] = mapped_column(sa.String(180))  # from the name; unique per cooperative
    description: Mapped[str] = mapped_column(sa.Text, default="")
    category: Mapped[Category] = enum_column(Category)
    unit: Mapped[Unit] = enum_column(Unit)
    province_code: Mapped[int | None] = mapped_column(index=True)  # origin
    commune_code: Mapped[int | None]
    base_price_vnd: Mapped[int] = mapped_column(sa.BigInteger)  # per unit, below the first tier
    min_order_qty: Mapped[int] = mapped_column(default=1)
    order_increment: Mapped[int] = mapped_column(default=1)
    capacity_qty: Mapped[int | None] = mapped_column(sa.BigInteger)
    capacity_period: Mapped[CapacityPeriod | None] = enum_column(CapacityPeriod, nullable=True)
    harvest_month_mask: Mapped[int] = mapped_column(default=0)  # bit m-1 set: available in month m
    lead_time_days: Mapped[int | None]
    status: Mapped[ProductStatus] = enum_column(ProductStatus, default=ProductStatus.DRAFT, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    cooperative: Mapped[Organisation] = relationship()
    tiers: Mapped[list["PriceTier"]] = relationship(
        back_populates="product", order_by="PriceTier.min_qty", cascade="all, delete-orphan")
    images: Mapped[list["ProductImage"]] = relationship(
        back_populates="product", order_by="ProductImage.position", cascade="all, delete-orphan")
    certificates: Mapped[list["OcopCertificate"]] = relationship(
        back_populates="product", order_by="OcopCertificate.id.desc()", cascade="all, delete-orphan")
    certification_rows: Mapped[list["ProductCertification"]] = relationship(
        cascade="all, delete-orphan", order_by="ProductCertification.code")

    # ------------------------------------------------------------ questions about state
    @property
    def is_published(self):
        """The cooperative has published it (not a draft, not hidden); buyers see it only while the
        cooperative is verified too (is_public)."""
        return self.status == ProductStatus.PUBLISHED

    @property
    def is_public(self):
        """Shown in the catalogue: published, by a cooperative the alliance has verified."""
        return self.is_published and self.cooperative.status == OrganisationStatus.VERIFIED

    @property
    def display_name(self):
        return self.name

    def name_in(self, locale):
        """The name to show in `locale`: the English name on English pages when the cooperative gave one, else the
        Vietnamese name (the product's own)."""
        return self.name_en if str(locale) == "en" and self.name_en else self.name

    @property
    def certifications(self):
        return [row.code for row in self.certification_rows]

    @property
    def harvest_months(self):
        return [m for m in range(1, 13) if self.harvest_month_mask & (1 << (m - 1))]

    @staticmethod
    def month_mask(months):
        return sum(1 << (m - 1) for m in set(months))

    @property
    def cover(self):
        return self.images[0] if self.images else None

    @property
    def province_name(self):
        return geo.province_name(self.province_code) if self.province_code else ""

    @property
    def commune_name(self):
        return geo.commune_name(self.commune_code) if self.commune_code else ""

    @property
    def unit_name_vi(self):
        return UNIT_NAMES_VI[self.unit]

    def valid_certificate(self, today):
        """The OCOP certificate whose badge may show today, or None (never an expired one)."""
        valid = [c for c in self.certificates if c.is_valid_on(today)]
        return max(valid, key=lambda c: (c.stars, c.expires_on), default=None)

    def ocop_stars(self, today):
        certificate = self.valid_certificate(today)
        return certificate.stars if certificate else None

    @property
    def lowest_price_vnd(self):
        """"Price from": the best unit price a large enough order gets."""
        return min([self.base_price_vnd, *(t.unit_price_vnd for t in self.tiers)])

    def unit_price_for(self, quantity):
        """The unit price for an order of `quantity`: the last tier whose threshold is reached."""
        price = self.base_price_vnd
        for tier in self.tiers:  # ordered by min_qty
            if quantity >= tier.min_qty:
                price = tier.unit_price_vnd
        return price

    def line_total_for(self, quantity):
        return self.unit_price_for(quantity) * quantity

    def quantity_problem(self, quantity):
        """Why `quantity` cannot be ordered (a message), or None when it can."""
        if quantity < self.min_order_qty:
            return _l("The minimum order is %(qty)s.", qty=self.min_order_qty)
        if quantity % self.order_increment:
            return _l("Order in multiples of %(step)s.", step=self.order_increment)
        return None

    def missing_for_publication(self):
        """What blocks publication (translated messages). Wholesale terms are complete by validation;
        the cooperative itself must be verified by the alliance."""
        if self.cooperative.status != OrganisationStatus.VERIFIED:
            return [_l("the alliance's verification of your cooperative")]
        return []

    def recommendations(self, today):
        """What buyers look for and the product lacks: shown in the workspace, never blocking
        (the alliance's registry import publishes products that have no photo yet)."""
        missing = []
        if not self.images:
            missing.append(_l("a photo"))
        if not self.description.strip():
            missing.append(_l("a description"))
        if not self.province_code:
            missing.append(_l("the province of origin"))
        if not self.valid_certificate(today):
            missing.append(_l("a verified OCOP certificate"))
        return missing


class ProductCertification(db.Model):
    """A quality certification the product holds (VietGAP, organic, ...): one row per code."""

    __tablename__ = "product_certification"

    product_id: Mapped[int] = mapped_column(sa.ForeignKey("product.id", ondelete="CASCADE"), primary_key=True)
    code: Mapped[Certification] = enum_column(Certification, primary_key=True, index=True)


class PriceTier(db.Model):
    """From `min_qty` units on, every unit costs `unit_price_vnd` (volume pricing, not per band)."""

    __tablename__ = "price_tier"
    __table_args__ = (sa.UniqueConstraint("product_id", "min_qty"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int] = mapped_column(sa.ForeignKey("product.id", ondelete="CASCADE"), index=True)
    min_qty: Mapped[int] = mapped_column(sa.BigInteger)
    unit_price_vnd: Mapped[int] = mapped_column(sa.BigInteger)

    product: Mapped[Product] = relationship(back_populates="tiers")


class ProductImage(db.Model):
    """A photo, re-encoded to WebP under UPLOAD_DIR/products/<stored_name>.webp (+ a thumbnail)."""

    __tablename__ = "product_image"

    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int] = mapped_column(sa.ForeignKey("product.id", ondelete="CASCADE"), index=True)
    stored_name: Mapped[str] = mapped_column(sa.String(32), unique=True)  # uuid4().hex, never the upload's name
    position: Mapped[int] = mapped_column(default=0)  # 0 is the cover
    width: Mapped[int]
    height: Mapped[int]
    alt_text: Mapped[str] = mapped_column(sa.String(200), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    product: Mapped[Product] = relationship(back_populates="images")


class OcopCertificate(db.Model):
    """An OCOP rating decision for a product. The badge shows only while verified and unexpired."""

    __tablename__ = "ocop_certificate"
    # Each product's verified ratings, best first: the dashboard's OCOP products by stars reads each product's best
    # one from it (catalog.queries.ocop_products_by_stars: on PostgreSQL from the index alone, issue 14).
    __table_args__ = (sa.Index("ix_ocop_certificate_best", "product_id", "stars",
                               postgresql_include=["expires_on"], postgresql_where=sa.text("status = 'verified'"),
                               sqlite_where=sa.text("status = 'verified'")),)

    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int] = mapped_column(sa.ForeignKey("product.id", ondelete="CASCADE"), index=True)
    stars: Mapped[int]  # 3, 4 or 5
    certificate_no: Mapped[str] = mapped_column(sa.String(80))
    issuing_level: Mapped[IssuingLevel] = enum_column(IssuingLevel, default=IssuingLevel.PROVINCE)
    decision_date: Mapped[date | None] = mapped_column(sa.Date)
    expires_on: Mapped[date] = mapped_column(sa.Date, index=True)
    scan_name: Mapped[str | None] = mapped_column(sa.String(40))  # random stored file name, or None
    status: Mapped[CertificateStatus] = enum_column(CertificateStatus, default=CertificateStatus.PENDING, index=True)
    status_reason: Mapped[str] = mapped_column(sa.Text, default="")
    reviewed_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    product: Mapped[Product] = relationship(back_populates="certificates")
    reviewed_by: Mapped[User | None] = relationship()

    def is_valid_on(self, today):
        return self.status == CertificateStatus.VERIFIED and self.expires_on >= today

    def can_be_verified(self, today):
        return self.status == CertificateStatus.PENDING and self.expires_on >= today

    def can_be_revoked(self):
        return self.status in (CertificateStatus.PENDING, CertificateStatus.VERIFIED)

    def can_be_withdrawn(self):
        """The cooperative may take it back while the alliance has not reviewed it."""
        return self.status == CertificateStatus.PENDING

    def is_overdue(self, today):
        """Past its expiry date but still pending or verified: `flask catalog expire-certificates` has not
        marked it expired yet. It can no longer be verified and shows no badge (is_valid_on is False)."""
        return self.status in (CertificateStatus.PENDING, CertificateStatus.VERIFIED) and self.expires_on < today


class CatalogEvent(db.Model):
    """Audit trail of products and certificates: who did what, when, and why."""

    __tablename__ = "catalog_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int | None] = mapped_column(sa.ForeignKey("product.id", ondelete="SET NULL"), index=True)
    cooperative_id: Mapped[int] = mapped_column(sa.ForeignKey("organisation.id"), index=True)
    certificate_id: Mapped[int | None] = mapped_column(sa.ForeignKey("ocop_certificate.id", ondelete="SET NULL"))
    actor_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    kind: Mapped[CatalogEventKind] = enum_column(CatalogEventKind)
    note: Mapped[str] = mapped_column(sa.Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    actor: Mapped[User | None] = relationship()
