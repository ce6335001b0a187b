"""Read models of the public catalogue: filtered, sorted, paginated lists and public pages.

Public means: the product is published and its cooperative is verified by the alliance. A badge
counts only while its certificate is verified and unexpired (checked against today, so a page
never shows an expired badge even before the daily expiry command has run).
"""
from dataclasses import dataclass
from datetime import date, timedelta
from typing import NamedTuple

import sqlalchemy as sa
from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.orm import contains_eager, selectinload

from marketplace import geo
from marketplace.accounts.models import CooperativeType, Organisation, OrganisationKind, OrganisationStatus
from marketplace.catalog.models import (
    Category,
    CertificateStatus,
    Certification,
    OcopCertificate,
    PriceTier,
    Product,
    ProductCertification,
    ProductStatus,
)
from marketplace.catalog.services import today
from marketplace.errors import InvalidParameter, NotFound
from marketplace.extensions import db
from marketplace.pagecache import PageCache, catalogue_version
from marketplace.querystring import MAX_PAGE, whole_number, whole_number_arg
from marketplace.routing import MAX_ID

SORTS = ("newest", "price_asc", "price_desc", "stars", "name")
DEFAULT_PER_PAGE = 24
MAX_PER_PAGE = 100
FILTERS = ("category", "province", "stars", "certification", "cooperative_type", "cooperative")


@dataclass
class CatalogQuery:
    category: str | None = None
    province: int | None = None
    stars: int | None = None
    certification: str | None = None
    cooperative_type: str | None = None
    cooperative: int | None = None
    sort: str = "newest"
    page: int = 1
    per_page: int = DEFAULT_PER_PAGE

    @property
    def filters(self):
        """The active filters as query-string values (for links that keep them)."""
        return {name: getattr(self, name) for name in FILTERS if getattr(self, name) is not None}


def _province(value):
    code = whole_number(value, 1, 10**6)
    return code if code and geo.province_name(code) else None


# The product filters shared by the catalogue, its API and search: name → check (the value, or None).
FILTER_CHECKS = {
    "category": lambda v: v if v in {c.value for c in Category} else None,
    "province": _province,
    "stars": lambda v: whole_number(v, 3, 5),
    "certification": lambda v: v if v in {c.value for c in Certification} else None,
    "cooperative_type": lambda v: v if v in {c.value for c in CooperativeType} else None,
}


def parse_catalog_args(args, strict=False, allowed_extra=()):
    """Read filters from a query string. Pages drop bad values; the API (strict) raises InvalidParameter."""
    errors, query = {}, CatalogQuery()
    checks = {**FILTER_CHECKS, "sort": lambda v: v if v in SORTS else None}
    numbers = {"cooperative": (MAX_ID, None), "page": (MAX_PAGE, 1), "per_page": (MAX_PER_PAGE, DEFAULT_PER_PAGE)}
    for name in sorted(set(args) - set(checks) - set(numbers) - set(allowed_extra)):
        errors[name] = _l("Unknown parameter.")
    for name, (maximum, default) in numbers.items():
        setattr(query, name, whole_number_arg(args, name, maximum, default, strict=strict, errors=errors))
    for name, check in checks.items():
        raw = args.get(name)
        if raw in (None, ""):
            continue
        value = check(raw)
        if value is None:
            errors[name] = _l("This value is not allowed here.")
        else:
            setattr(query, name, value)
    if strict and errors:
        raise InvalidParameter.for_parameters(errors)
    return query


def _valid_ratings(on):
    """Subquery (product_id, stars): each product's best OCOP rating that is verified and unexpired on `on`, for
    the products that have one. One pass over the certificates, joined where needed: a correlated subquery per
    product costs a lookup per row (50,000 on a full catalogue) and pushed PostgreSQL's estimate over its JIT
    threshold (milliseconds of compilation per query)."""
    return (sa.select(OcopCertificate.product_id, sa.func.max(OcopCertificate.stars).label("stars"))
            .where(OcopCertificate.status == CertificateStatus.VERIFIED, OcopCertificate.expires_on >= on)
            .group_by(OcopCertificate.product_id).subquery("valid_rating"))


def _lowest_tiers():
    """Subquery (product_id, price): each product's cheapest price tier (one pass over the tiers, as above).
    Tier prices are validated to be below the base price, so with tiers "price from" is the cheapest tier."""
    return (sa.select(PriceTier.product_id, sa.func.min(PriceTier.unit_price_vnd).label("price"))
            .group_by(PriceTier.product_id).subquery("lowest_tier"))


def public_statement():
    return (db.select(Product).join(Product.cooperative)
            .where(Product.status == ProductStatus.PUBLISHED, Organisation.status == OrganisationStatus.VERIFIED))


def with_card_data(statement):
    """Load what a product card shows in a fixed number of queries (no N+1): the cooperative from the join
    public_statement() already makes, then the price tiers, photos and OCOP certificates (three queries)."""
    return statement.options(
        contains_eager(Product.cooperative), selectinload(Product.tiers), selectinload(Product.images),
        selectinload(Product.certificates),
    )


def with_product_data(statement):
    """What a card shows and the certifications too (the product page, the API's products)."""
    return with_card_data(statement).options(selectinload(Product.certification_rows))


def _filtered(statement, query, on, leave_out=None):
    """`statement` (over Product joined to its cooperative) narrowed by the query's filters, but `leave_out`;
    OCOP ratings as valid on `on`."""
    def active(name):
        return name != leave_out and getattr(query, name)

    if active("category"):
        statement = statement.where(Product.category == query.category)
    if active("province"):
        statement = statement.where(Product.province_code == query.province)
    if active("stars"):
        rated = _valid_ratings(on)
        statement = statement.where(Product.id.in_(sa.select(rated.c.product_id).where(rated.c.stars == query.stars)))
    if active("certification"):
        statement = statement.where(Product.id.in_(
            db.select(ProductCertification.product_id).where(ProductCertification.code == query.certification)))
    if active("cooperative_type"):
        statement = statement.where(Organisation.cooperative_type == query.cooperative_type)
    if active("cooperative"):
        statement = statement.where(Product.cooperative_id == query.cooperative)
    return statement


def _sorted(statement, sort, on):
    """`statement` in the catalogue's order `sort` (ties broken by id, so pages never overlap). The newest and
    name orders are served by indexes (ix_product_newest, ix_product_name: no sort of the whole catalogue);
    price and rating join their one-pass subqueries."""
    if sort == "newest":
        return statement.order_by(Product.published_at.desc(), Product.id.desc())
    if sort == "name":
        return statement.order_by(Product.name.asc(), Product.id.asc())
    if sort in ("price_asc", "price_desc"):
        lowest = _lowest_tiers()
        price = sa.func.coalesce(lowest.c.price, Product.base_price_vnd)
        return (statement.outerjoin(lowest, lowest.c.product_id == Product.id)
                .order_by(price.asc() if sort == "price_asc" else price.desc(), Product.id.desc()))
    rated = _valid_ratings(on)  # "stars": the best valid rating first, products without one last
    return (statement.outerjoin(rated, rated.c.product_id == Product.id)
            .order_by(sa.func.coalesce(rated.c.stars, 0).desc(), Product.published_at.desc(), Product.id.desc()))


def public_products(query, load=with_card_data, total=None, count=True):
    """Published products of verified cooperatives, filtered and sorted; a Flask-SQLAlchemy pagination.
    `load` adds the eager loads: what cards show by default, with_product_data for the API. `total`, when the
    caller knows it (the catalogue page: catalogue_total), saves the pagination's count; `count=False` leaves
    the total unknown (None: a strip of the latest products, which shows no pager)."""
    on = today()
    statement = _sorted(_filtered(public_statement(), query, on), query.sort, on)
    pagination = db.paginate(load(statement), page=query.page, per_page=query.per_page, error_out=False,
                             count=count and total is None)
    if total is not None:
        pagination.total = total  # as Flask-SQLAlchemy's own prev() and next() set it
    return pagination


def province_counts(query):
    """{province code, or None for products without one: public products} under the query's filters but the
    province: the province facet, and the catalogue's total (catalogue_total). One GROUP BY query over every
    matching product, kept in this process while the catalogue has not changed (see _remembered_counts)."""
    on = today()
    memo, key = _remembered_counts(query, on)
    counts = memo.get(key) if memo is not None else None
    if counts is None:
        statement = _filtered(
            sa.select(Product.province_code, sa.func.count(Product.id)).join(Product.cooperative)
            .where(Product.status == ProductStatus.PUBLISHED, Organisation.status == OrganisationStatus.VERIFIED),
            query, on, leave_out="province",
        ).group_by(Product.province_code)
        counts = dict(db.session.execute(statement).all())
        if memo is not None:
            memo.put(key, counts)
    return dict(counts)


def _remembered_counts(query, on):
    """(memo, key) for the province counts of `query`, or (None, None) when the page cache is off.

    The counts depend on the filters other than the province, not on the page, the order or the chosen
    province, so the catalogue's pages 1 to N, its orders and its provinces share one entry: a page missing
    the page cache (pagecache.py) then costs its page query, not a GROUP BY over the whole catalogue. The key
    holds the search change log's version (read before the counts, like the page cache's, so an entry is never
    older than its key) and the day (a rating expires at its end); entries live as long as cached pages, in the
    app's own memo (never shared between apps on different databases)."""
    seconds = current_app.config["PAGE_CACHE_SECONDS"]
    if seconds <= 0:
        return None, None
    memo = current_app.extensions.get("province_counts")
    if memo is None:
        memo = current_app.extensions.setdefault(
            "province_counts", PageCache(current_app.config["PAGE_CACHE_ENTRIES"], seconds))
    filters = tuple(sorted((name, value) for name, value in query.filters.items() if name != "province"))
    return memo, (filters, on, catalogue_version())


def catalogue_total(query, counts):
    """The number of public products matching `query`, from its province_counts: the chosen province's count,
    or all of them. The catalogue page thus counts once, not a second time for its pagination."""
    return counts.get(query.province, 0) if query.province else sum(counts.values())


class ProvinceOption(NamedTuple):
    code: int
    name: str
    products: int  # public products from the province under the query's other filters
    selected: bool


def province_options(query, counts=None):
    """[ProvinceOption] of the provinces that public products come from, counted under the query's other
    filters (a facet: choosing a province does not hide the others), in Vietnamese alphabetical order. The
    chosen province stays listed, with 0, when nothing matches it. `counts`: the query's province_counts,
    when the caller has them already (else one GROUP BY query)."""
    counts = dict(province_counts(query) if counts is None else counts)
    counts.pop(None, None)
    if query.province:
        counts.setdefault(query.province, 0)
    options = [ProvinceOption(code, geo.province_name(code), count, code == query.province)
               for code, count in counts.items() if geo.province_name(code)]
    return sorted(options, key=lambda option: geo.sort_key(option.name))


def public_product(product_id):
    """A product anyone may see. Raises NotFound for drafts, hidden products and unverified sellers."""
    product = db.session.scalar(with_product_data(public_statement().where(Product.id == product_id)))
    if product is None:
        raise NotFound()
    return product


def public_products_by_ids(ids):
    """Public products in the order of `ids` (search results), skipping any that are not public."""
    rows = db.session.scalars(with_card_data(public_statement().where(Product.id.in_(ids)))).all()
    by_id = {p.id: p for p in rows}
    return [by_id[i] for i in ids if i in by_id]


def public_cooperative(cooperative_id):
    cooperative = db.session.get(Organisation, cooperative_id)
    if (cooperative is None or cooperative.kind != OrganisationKind.COOPERATIVE
            or cooperative.status != OrganisationStatus.VERIFIED):
        raise NotFound()
    return cooperative


# ---------------------------------------------------------------- read models of the alliance's dashboard

def ocop_products_by_stars(on):
    """[(stars, products)]: products with an OCOP certificate verified and unexpired on `on`, counted by their
    highest such rating (a product rated 3 then 4 stars counts once, as 4), fewest stars first. One query: on
    PostgreSQL each product's best certificate is the first of its verified ones read backwards from
    ix_ocop_certificate_best (DISTINCT ON, no sort and no hash of every product: half the time at 30,000
    certificates, issue 14), elsewhere two nested GROUP BY."""
    valid = (OcopCertificate.status == CertificateStatus.VERIFIED, OcopCertificate.expires_on >= on)
    if db.session.get_bind().dialect.name == "postgresql":
        # 'verified' written in the statement, not bound: a prepared statement's generic plan (psycopg prepares a
        # query run five times) could not use the partial index for a parameter.
        verified = sa.bindparam(None, CertificateStatus.VERIFIED, type_=OcopCertificate.status.type,
                                literal_execute=True)
        best = (sa.select(OcopCertificate.stars).where(OcopCertificate.status == verified, valid[1])
                .ext(distinct_on(OcopCertificate.product_id))
                .order_by(OcopCertificate.product_id.desc(), OcopCertificate.stars.desc()).subquery())
    else:
        best = (sa.select(OcopCertificate.product_id, sa.func.max(OcopCertificate.stars).label("stars"))
                .where(*valid).group_by(OcopCertificate.product_id).subquery())
    statement = sa.select(best.c.stars, sa.func.count()).group_by(best.c.stars).order_by(best.c.stars)
    return [(stars, count) for stars, count in db.session.execute(statement)]


class ExpiringCertificate(NamedTuple):
    certificate_id: int
    product_name: str
    cooperative_name: str
    stars: int
    certificate_no: str
    expires_on: date


def certificates_expiring(on, days=90, limit=500):
    """[ExpiringCertificate] of the verified OCOP certificates that expire from `on` to `on` + `days` (both
    included), soonest first, at most `limit` (one query)."""
    statement = (sa.select(OcopCertificate.id, Product.name, Organisation.legal_name, OcopCertificate.stars,
                           OcopCertificate.certificate_no, OcopCertificate.expires_on)
                 .join(Product, Product.id == OcopCertificate.product_id)
                 .join(Organisation, Organisation.id == Product.cooperative_id)
                 .where(OcopCertificate.status == CertificateStatus.VERIFIED,
                        OcopCertificate.expires_on >= on, OcopCertificate.expires_on <= on + timedelta(days=days))
                 .order_by(OcopCertificate.expires_on, OcopCertificate.id).limit(limit))
    return [ExpiringCertificate._make(row) for row in db.session.execute(statement)]
