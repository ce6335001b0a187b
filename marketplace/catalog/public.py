"""Public catalogue pages (no login): the catalogue, product and cooperative pages, QR codes, photos.

Only published products of cooperatives the alliance has verified are shown (queries.public_*); a
badge shows only while its certificate is verified and unexpired (Product.ocop_stars(today)).
"""
import io

import segno
from babel.dates import get_month_names
from flask import abort, redirect, render_template, request, send_file, url_for
from flask_babel import format_decimal, get_locale
from flask_login import current_user

from marketplace import notifications
from marketplace.accounts.authz import Permission, can
from marketplace.accounts.models import CooperativeType
from marketplace.catalog import cards, images, queries, services
from marketplace.catalog.models import Category, Certification
from marketplace.catalog.services import today
from marketplace.catalog.views import blueprint
from marketplace.pagecache import cached_page
from marketplace.querystring import MAX_PAGE, whole_number_arg

# A slug equal to a fixed path segment (/products/<id>/edit, /delete, /label) would reach that page
# instead of the product: such products keep the short URL as their canonical one.
RESERVED_SLUGS = {"edit", "delete", "label", "photos", "publish", "hide", "certificates"}
PHOTO_MAX_AGE = 31536000  # photo names are random and never reused: cache for a year
QR_MAX_AGE = 86400  # the QR changes only when the product is renamed (its slug changes)
PRODUCT = "<id:product_id>"
QR_OPTIONS = {"kind": "svg", "scale": 4, "border": 4, "xmldecl": False, "title": None}


# ---------------------------------------------------------------- helpers for templates

def canonical_slug(product):
    return product.slug if product.slug and product.slug not in RESERVED_SLUGS else None


@blueprint.app_template_global()
def product_url(product):
    """The canonical path of a public product page (for cards, search results and other links)."""
    return url_for("catalog.product", product_id=product.id, slug=canonical_slug(product))


@blueprint.app_template_global()
def product_cards(products):
    """[cards.Card] of `products`: what their cards show, worked out once for the list (catalog/_cards.html)."""
    return cards.product_cards(products)


@blueprint.app_template_global()
def ocop_stars(product):
    """Stars of the product's valid OCOP certificate today, or None: never an expired or unverified badge."""
    return product.ocop_stars(today())


@blueprint.app_template_global()
def product_name(product):
    """The product's name in the page's language (Product.name_in): for macros, which see no context variables."""
    return product.name_in(get_locale())


@blueprint.app_template_filter("quantity")
def quantity_filter(value):
    """A whole quantity with the locale's thousands separator: 20.000 (vi), 20,000 (en)."""
    return "" if value is None else format_decimal(value)


@blueprint.app_template_filter("month_name")
def month_name_filter(month):
    return get_month_names("wide", "stand-alone", locale=get_locale())[month]


def public_link(product):
    """The product page on PUBLIC_BASE_URL: never the request's Host header, which anyone can forge."""
    return notifications.link("catalog.product", product_id=product.id, slug=canonical_slug(product))


def qr_svg(url):
    buffer = io.BytesIO()
    segno.make(url, error="m").save(buffer, **QR_OPTIONS)
    return buffer.getvalue()


def filter_choices(query, province_counts=None):
    return {
        "categories": [(c.value, c) for c in Category],
        "provinces": queries.province_options(query, province_counts),
        "stars": (3, 4, 5),
        "certifications": [(c.value, c) for c in Certification],
        "cooperative_types": [(c.value, c) for c in CooperativeType],
        "sorts": queries.SORTS,
    }


# ---------------------------------------------------------------- pages

@blueprint.get("/products")
@cached_page
def catalogue():
    query = queries.parse_catalog_args(request.args)  # lenient: a bad value is dropped, never an error page
    query.per_page = queries.DEFAULT_PER_PAGE
    counts = queries.province_counts(query)  # the province facet, and the total: the pagination need not count
    pagination = queries.public_products(query, total=queries.catalogue_total(query, counts))
    return render_template("catalog/public/catalogue.html", query=query, pagination=pagination,
                           **filter_choices(query, counts))


@blueprint.get(f"/products/{PRODUCT}", defaults={"slug": None})
@blueprint.get(f"/products/{PRODUCT}/<slug>")
@cached_page
def product(product_id, slug):
    product = queries.public_product(product_id)  # NotFound for drafts, hidden products, unverified sellers
    if slug != canonical_slug(product):
        return redirect(product_url(product), code=301)
    return product_page(product)


def product_page(product, status=200, **context):
    """The product page of a public product (also shown again by the "Add to order" form with its error)."""
    return render_template("catalog/public/product.html", product=product, canonical_url=public_link(product),
                           certificate=product.valid_certificate(today()), **context), status


@blueprint.get(f"/products/{PRODUCT}/qr.svg")
def product_qr(product_id):
    product = queries.public_product(product_id)
    response = send_file(io.BytesIO(qr_svg(public_link(product))), mimetype="image/svg+xml", max_age=QR_MAX_AGE)
    response.cache_control.public = True
    return response


@blueprint.get(f"/products/{PRODUCT}/label")
def product_label(product_id):
    product = queries.public_product(product_id)
    short_link = notifications.link("catalog.product", product_id=product.id)
    return render_template("catalog/public/label.html", product=product, short_link=short_link)


@blueprint.get("/cooperatives/<id:cooperative_id>")
def cooperative(cooperative_id):
    cooperative = queries.public_cooperative(cooperative_id)
    query = queries.CatalogQuery(cooperative=cooperative.id,
                                 page=whole_number_arg(request.args, "page", MAX_PAGE, default=1))
    return render_template("catalog/public/cooperative.html", cooperative=cooperative,
                           pagination=queries.public_products(query),
                           contact=services.cooperative_contact(current_user, cooperative),
                           may_ask=can(current_user, Permission.PLACE_ORDERS))


# ---------------------------------------------------------------- photos

def _send_photo(name, thumbnail):
    path = images.photo_path(name, thumbnail=thumbnail)  # None for any name we could not have made
    if path is None or not path.is_file():
        abort(404)
    response = send_file(path, mimetype="image/webp", max_age=PHOTO_MAX_AGE, conditional=True)
    response.cache_control.public = True
    response.cache_control.immutable = True
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@blueprint.get("/media/products/<name>.webp")
def photo(name):
    return _send_photo(name, thumbnail=False)


@blueprint.get("/media/products/<name>/thumb.webp")
def thumbnail(name):
    return _send_photo(name, thumbnail=True)
