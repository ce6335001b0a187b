"""What a product card shows, worked out in Python for a whole list at once (issue 14).

A card used to be a Jinja macro calling three more macros and six translation, formatting and URL
helpers, each of which looked up the request's locale and translations again (Flask-Babel reads them
through context locals on every call): about 90 such calls for a page of 24 cards, and more than half
of the catalogue's rendering time. Here the locale, the translations, today's date and each unit's
label are looked up once per list; the template only writes the HTML (templates/catalog/_cards.html).

The texts are the ones the macros produced: the same messages (so the catalogues need no change), as
plain text that the template escapes (the messages hold no markup, so the HTML is the same as before).
"""
from typing import NamedTuple

from babel import numbers
from flask import url_for
from flask_babel import get_locale, get_translations

from marketplace.accounts.models import label
from marketplace.catalog.models import quantity_in_unit
from marketplace.catalog.services import today

THUMB_MAX = 480  # stored thumbnails are at most this many pixels on their longer side (images.py)


class Card(NamedTuple):
    product: object
    url: str
    name: str  # in the page's language
    name_lang: str  # "vi" or "en": the language of `name`
    image_src: str
    image_width: int
    image_height: int
    image_alt: str
    stars: int | None  # of a verified, unexpired OCOP certificate, else None
    stars_text: str | None  # "OCOP 4 stars", for screen readers
    seller: str
    origin: str
    price: str  # "from 50.000 ₫/kg"
    moq: str  # "Minimum order: 100 kg"


class _Texts:
    """The request's locale and translations, looked up once for a list of cards."""

    def __init__(self):
        self.locale = get_locale()
        self.translations = get_translations()
        self.units = {}

    def gettext(self, message, **variables):
        # Plain text: the template escapes it whole (these messages hold no markup), values included.
        return self.translations.ugettext(message) % variables

    def ngettext(self, singular, plural, n, **variables):
        variables.setdefault("num", n)
        return self.translations.ungettext(singular, plural, n) % variables

    def unit(self, unit):
        if unit not in self.units:
            self.units[unit] = str(label(unit))
        return self.units[unit]

    def vnd(self, amount):
        return numbers.format_currency(int(amount), "VND", locale=self.locale, currency_digits=True,
                                       format_type="standard")

    def quantity(self, quantity, unit):
        return quantity_in_unit(quantity, unit, ngettext=self.ngettext, locale=self.locale)


def product_cards(products):
    """[Card] for `products` (loaded with queries.with_card_data), in their order."""
    texts, on = _Texts(), today()
    placeholder = url_for("static", filename="img/placeholder-product.svg")
    return [_card(product, texts, on, placeholder) for product in products]


def _card(product, texts, on, placeholder):
    from marketplace.catalog.public import product_url

    name = product.name_in(texts.locale)
    cover = product.cover
    if cover:
        scale = min(1, THUMB_MAX / max(cover.width, cover.height))
        image = (url_for("catalog.thumbnail", name=cover.stored_name), int(round(cover.width * scale, 0)),
                 int(round(cover.height * scale, 0)), cover.alt_text or product.name)
    else:
        image = (placeholder, 480, 360, "")
    stars = product.ocop_stars(on)
    return Card(
        product=product, url=product_url(product), name=name, name_lang="vi" if name == product.name else "en",
        image_src=image[0], image_width=image[1], image_height=image[2], image_alt=image[3],
        stars=stars, stars_text=texts.gettext("OCOP %(num)s stars", num=stars) if stars else None,
        seller=product.cooperative.legal_name, origin=product.province_name,
        price=texts.gettext("from %(price)s/%(unit)s", price=texts.vnd(product.lowest_price_vnd),
                            unit=texts.unit(product.unit)),
        moq=texts.gettext("Minimum order: %(quantity)s",
                          quantity=texts.quantity(product.min_order_qty, product.unit)),
    )
