"""The public catalogue as anyone sees it: list with filters, sort and pagination, product page, cooperative
page, QR code and label, photos, and the weight of the pages on a phone's connection.

Checklist rows: 21-23 (XSS, template injection, filter/sort injection), 27-29 (serving uploaded photos).
"""
import gzip
import io
import re
import uuid
from datetime import date, timedelta
from html.parser import HTMLParser
from urllib.parse import parse_qs, urlsplit

import pytest
import segno
from PIL import Image
from werkzeug.datastructures import FileStorage

from marketplace import geo
from marketplace.accounts.models import CooperativeType
from marketplace.catalog import images
from marketplace.catalog.models import (
    Category,
    Certification,
    OcopCertificate,
    ProductCertification,
    ProductImage,
    Unit,
)
from marketplace.extensions import db
from tests import factories

XSS = '"><img src=x onerror=alert(1)>'
XSS_ESCAPED = "&#34;&gt;&lt;img src=x onerror=alert(1)&gt;"
TODAY = date.today()


# ---------------------------------------------------------------- helpers

def html(response, status=200):
    assert response.status_code == status, (response.status_code, response.headers.get("Location"))
    return response.get_data(as_text=True).replace("\xa0", " ")  # Babel puts a no-break space before ₫


def card_ids(page):
    """Ids of the products whose cards a page shows, in order (cards link to /products/<id>/<slug>)."""
    return [int(i) for i in re.findall(r'class="product-card-title"><a href="/products/(\d+)', page)]


def cards(page):
    """Each card's HTML by product name."""
    found = {}
    for card in re.findall(r'<article class="product-card">(.*?)</article>', page, re.S):
        found[re.search(r'lang="vi">([^<]+)</a>', card).group(1)] = card
    return found


def listed(client, query=""):
    return card_ids(html(client.get(f"/products{query}")))


def cooperative(status="verified", **fields):
    return factories.organisation("cooperative", status=status, **fields)


def product(seller, **fields):
    return factories.product(seller, **fields)


def photo_row(name=None, width=1600, height=1200, position=0):
    return ProductImage(stored_name=name or uuid.uuid4().hex, width=width,
                        height=height, position=position, alt_text="Ảnh sản phẩm")


@pytest.fixture
def seller(app):
    return cooperative()


# ---------------------------------------------------------------- the list and its cards

def test_cards_show_cover_name_seller_origin_price_from_moq_and_badge(client, seller):
    item = product(seller, name="Na dai Chi Lăng", tiers=[(100, 55000), (500, 50000)], base_price_vnd=60000,
                   min_order_qty=20, stars=4, province_code=20,
                   images=[photo_row("0123456789abcdef0123456789abcdef", 1600, 1200)])
    bare = product(seller, name="Hồi khô", base_price_vnd=120000, min_order_qty=50, unit=Unit.TUI)
    page = html(client.get("/products"))
    assert card_ids(page) == [bare.id, item.id]  # newest first
    card, rest = cards(page)["Na dai Chi Lăng"], cards(page)["Hồi khô"]
    thumb = re.search(r'<img class="product-card-img" src="([^"]+)" width="(\d+)" height="(\d+)"\s+loading="lazy" alt="([^"]+)"', card)
    assert thumb, card
    assert thumb.groups() == ("/media/products/0123456789abcdef0123456789abcdef/thumb.webp", "480", "360", "Ảnh sản phẩm")
    assert f'href="/products/{item.id}/{item.slug}"' in card
    assert seller.legal_name in card and "Lạng Sơn" in card
    assert "50.000 ₫/kg" in card  # price from: the cheapest tier
    assert re.search(r"20 kg", card)  # the minimum order
    assert "OCOP 4★" in card
    # Without a photo: the neutral placeholder, sized, with an empty alt (it says nothing); no badge.
    assert re.search(r'src="/static/img/placeholder-product.svg" width="480" height="360"\s+loading="lazy" alt=""', rest)
    assert "120.000 ₫/" in rest and "50 " in rest
    assert "ocop-badge" not in rest


def test_only_published_products_of_verified_cooperatives_are_listed(client, seller):
    shown = product(seller)
    product(seller, status="draft")
    product(seller, status="hidden")
    for status in ("pending", "suspended", "rejected"):
        product(cooperative(status=status))
    assert listed(client) == [shown.id]


@pytest.fixture
def assortment(seller):
    """Products that differ in one filtered attribute each (the rest as the factory makes them)."""
    group = cooperative(cooperative_type=CooperativeType.TO_HOP_TAC)
    return {
        "plain": product(seller, name="Gạo nếp", base_price_vnd=100000),
        "tea": product(seller, name="Chè xanh", category=Category.BEVERAGES, base_price_vnd=90000),
        "lai_chau": product(seller, name="Dong riềng", province_code=12, commune_code=None, base_price_vnd=80000),
        "four_stars": product(seller, name="Bánh khảo", stars=4, base_price_vnd=70000),
        "three_stars": product(seller, name="Hồi khô", stars=3, base_price_vnd=75000),
        "vietgap": product(seller, name="Ớt tươi", certification_rows=[ProductCertification(code=Certification.VIETGAP)],
                           base_price_vnd=60000),
        "group": product(group, name="Miến dong", base_price_vnd=50000),
    }


@pytest.mark.parametrize("query, expected", [
    ("?category=beverages", ["tea"]),
    ("?province=12", ["lai_chau"]),
    ("?stars=4", ["four_stars"]),
    ("?stars=3", ["three_stars"]),
    ("?certification=vietgap", ["vietgap"]),
    ("?cooperative_type=to_hop_tac", ["group"]),
    ("?category=beverages&stars=4", []),
])
def test_each_filter_narrows_the_list(client, assortment, query, expected):
    assert sorted(listed(client, query)) == sorted(assortment[name].id for name in expected)
    page = html(client.get(f"/products{query}"))
    for name, value in parse_qs(query[1:]).items():  # the form shows the active filter as selected
        assert re.search(rf'<select class="form-select" id="{name}" name="{name}"[^>]*>.*?<option value="{value[0]}" selected>',
                         page, re.S), name


def test_sorting(client, assortment):
    by_price = [p.id for p in sorted(assortment.values(), key=lambda p: p.base_price_vnd)]
    assert listed(client, "?sort=price_asc") == by_price
    assert listed(client, "?sort=price_desc") == by_price[::-1]
    assert listed(client, "?sort=stars")[:2] == [assortment["four_stars"].id, assortment["three_stars"].id]
    by_name = ["four_stars", "tea", "lai_chau", "plain", "three_stars", "group", "vietgap"]  # B, C, D, G, H, M, Ớ
    assert listed(client, "?sort=name") == [assortment[name].id for name in by_name]


def test_price_and_rating_orders_use_the_cheapest_tier_and_the_best_valid_rating(client, seller):
    tiered = product(seller, name="Có giá sỉ", base_price_vnd=100000, tiers=[(50, 45000), (100, 40000)])
    plain = product(seller, name="Giá một mức", base_price_vnd=50000)
    rated = product(seller, name="Ba rồi bốn sao", stars=3)
    add_certificate(rated, 4, "verified", TODAY + timedelta(days=30))  # two valid ratings: the best counts
    lapsed = product(seller, name="Năm sao hết hạn", stars=3)
    add_certificate(lapsed, 5, "verified", TODAY - timedelta(days=1))  # expired before the daily command ran
    assert listed(client, "?sort=price_asc")[:2] == [tiered.id, plain.id]  # from 40.000 ₫, then 50.000 ₫
    assert listed(client, "?sort=stars")[:2] == [rated.id, lapsed.id]  # 4, then 3 (the 5 has expired)
    assert listed(client, "?stars=4") == [rated.id]
    assert listed(client, "?stars=3") == [lapsed.id]
    assert listed(client, "?stars=5") == []


def total(page):
    """The number of products the catalogue's heading states ("7 sản phẩm")."""
    return int(re.search(r'<h2 id="results-heading" class="h5">(\d+)', page).group(1))


def test_the_total_counts_every_matching_product_with_or_without_a_province(client, seller):
    """The catalogue takes its total from the province facet's counts (queries.catalogue_total), not from a
    count of its own: products without a province count too, and the total follows every filter."""
    lai_chau, lang_son = province_code("Lai Châu"), province_code("Lạng Sơn")
    for _ in range(3):
        product(seller, province_code=lai_chau, commune_code=None)
    product(seller, province_code=lang_son, commune_code=None, category=Category.BEVERAGES, stars=4)
    product(seller, province_code=lang_son, commune_code=None)
    product(seller, province_code=None, commune_code=None, category=Category.BEVERAGES)
    product(seller, province_code=None, commune_code=None, stars=4)
    product(seller, province_code=lai_chau, commune_code=None, status="draft")  # not public
    product(cooperative(status="pending"), province_code=None, commune_code=None)  # not public
    for query, expected in [("", 7), (f"?province={lai_chau}", 3), (f"?province={lang_son}", 2),
                            ("?category=beverages", 2), (f"?category=beverages&province={lang_son}", 1),
                            (f"?category=beverages&province={lai_chau}", 0), ("?stars=4", 2),
                            (f"?stars=4&province={lang_son}", 1), ("?sort=price_asc&page=2", 7)]:
        page = html(client.get(f"/products{query}"))
        assert total(page) == expected, query
        if "page=" not in query:
            assert len(card_ids(page)) == expected, query


@pytest.mark.parametrize("query", [
    "?stars=9", "?stars=-1", "?sort=name%20desc;--", "?sort=name desc", "?province=%27%20OR%201=1--",
    "?category=%27%20OR%201=1--", "?certification=vietgap%27--", "?cooperative_type=1%20OR%201=1",
    "?page=abc", "?page=-3", "?page=999999999999999999999", "?per_page=100000", "?stars=4%20OR%201=1",
    "?category=<script>alert(1)</script>", "?unknown=1",
])
def test_bad_filter_values_are_ignored_without_error_or_extra_rows(client, assortment, query):
    everything = listed(client)
    response = client.get(f"/products{query}")
    page = html(response)
    assert sorted(card_ids(page)) == sorted(everything)
    assert "<script>alert(1)</script>" not in page


def test_pagination_keeps_the_filters(client, seller):
    teas = [product(seller, category=Category.BEVERAGES) for _ in range(30)]
    product(seller)  # another category
    page = html(client.get("/products?category=beverages&sort=name"))
    assert len(card_ids(page)) == 24
    links = [parse_qs(urlsplit(href.replace("&amp;", "&")).query)
             for href in re.findall(r'class="page-link" href="([^"]+)"', page)]
    assert {"page": ["2"], "category": ["beverages"], "sort": ["name"]} in links, links
    second = card_ids(html(client.get("/products?category=beverages&sort=name&page=2")))
    assert len(second) == 6
    assert sorted(card_ids(page) + second) == sorted(t.id for t in teas)
    assert "30" in page  # the result count


def test_empty_result_has_an_explanation_and_a_clear_filters_link(client, seller, english):
    product(seller)
    page = html(client.get("/products?category=handicrafts"))
    assert card_ids(page) == []
    assert "No product matches these filters." in page
    assert '<a href="/products">Clear filters and see all products</a>' in page


def test_an_empty_catalogue_says_so(client):
    client.post("/language", data={"lang": "en"})
    page = html(client.get("/products"))
    assert "No product matches these filters." in page and "0 products" in page


def province_code(name):
    return next(code for code, full_name in geo.provinces() if full_name == name)


def province_options(page):
    """(value, text) of the province filter's options, in order, after "All provinces"."""
    select = re.search(r'<select class="form-select" id="province" name="province"[^>]*>(.*?)</select>', page, re.S).group(1)
    return re.findall(r'<option value="(\d+)"[^>]*>([^<]+)</option>', select)


def test_the_province_filter_lists_only_provinces_with_products_with_counts_in_vietnamese_order(client, seller):
    names = ("Thành phố Huế", "Cao Bằng", "Thành phố Hà Nội", "Cà Mau", "Điện Biên", "Đồng Tháp")
    for count, name in enumerate(names, start=1):
        for _ in range(count):
            product(seller, province_code=province_code(name), commune_code=None)
    product(seller, province_code=province_code("Lạng Sơn"), commune_code=None, status="draft")  # not public
    product(cooperative(status="pending"), province_code=province_code("Sơn La"), commune_code=None)

    options = province_options(html(client.get("/products")))
    assert options == [(str(province_code(name)), f"{name} ({count})") for name, count in (
        ("Cà Mau", 4), ("Cao Bằng", 2), ("Điện Biên", 5), ("Đồng Tháp", 6), ("Thành phố Hà Nội", 3),
        ("Thành phố Huế", 1))]


def test_province_counts_follow_the_other_filters_and_keep_the_chosen_province(client, seller):
    product(seller, province_code=province_code("Lai Châu"), commune_code=None, category=Category.BEVERAGES)
    product(seller, province_code=province_code("Lai Châu"), commune_code=None)
    product(seller, province_code=province_code("Lạng Sơn"), commune_code=None)
    lai_chau, lang_son = province_code("Lai Châu"), province_code("Lạng Sơn")

    page = html(client.get("/products?category=beverages"))
    assert province_options(page) == [(str(lai_chau), "Lai Châu (1)")]
    page = html(client.get(f"/products?province={lai_chau}"))  # its own filter does not narrow the list
    assert province_options(page) == [(str(lai_chau), "Lai Châu (2)"), (str(lang_son), "Lạng Sơn (1)")]
    assert f'<option value="{lai_chau}" selected>' in page
    page = html(client.get(f"/products?province={lang_son}&category=beverages"))  # chosen, nothing matches
    assert province_options(page) == [(str(lai_chau), "Lai Châu (1)"), (str(lang_son), "Lạng Sơn (0)")]


# ---------------------------------------------------------------- badges: only a verified, unexpired certificate

def add_certificate(item, stars, status, expires_on):
    db.session.add(OcopCertificate(product=item, stars=stars, certificate_no=f"CN-{stars}-{status}",
                                   decision_date=TODAY - timedelta(days=400), expires_on=expires_on, status=status))
    db.session.commit()


@pytest.mark.parametrize("status, expires_on", [
    ("verified", TODAY - timedelta(days=2)),  # expired, before the daily command marked it
    ("expired", TODAY - timedelta(days=2)),
    ("pending", TODAY + timedelta(days=300)),
    ("revoked", TODAY + timedelta(days=300)),
])
def test_no_badge_without_a_valid_verified_certificate(client, seller, status, expires_on):
    item = product(seller, name="Mật ong rừng")
    add_certificate(item, 5, status, expires_on)
    pages = [html(client.get("/products")), html(client.get(f"/products/{item.id}/{item.slug}")),
             html(client.get(f"/products/{item.id}/label")), html(client.get(f"/cooperatives/{seller.id}")),
             html(client.get("/"))]
    for page in pages:
        assert "Mật ong rừng" in page
        assert "ocop-badge" not in page and "OCOP 5" not in page and "CN-5" not in page
    assert listed(client, "?stars=5") == []


def test_a_product_shows_only_its_valid_certificate(client, seller, english):
    item = product(seller)
    add_certificate(item, 5, "verified", TODAY - timedelta(days=1))  # expired five stars
    add_certificate(item, 4, "pending", TODAY + timedelta(days=500))
    add_certificate(item, 3, "verified", TODAY + timedelta(days=100))
    page = html(client.get(f"/products/{item.id}/{item.slug}"))
    assert "OCOP 3★" in page and "OCOP 5★" not in page and "OCOP 4★" not in page
    section = page[page.index('id="ocop-heading"'):]
    assert "CN-3-verified" in section and "CN-5" not in page and "CN-4" not in page
    assert (TODAY + timedelta(days=100)).strftime("%d/%m/%Y") in section
    assert (TODAY - timedelta(days=400)).strftime("%d/%m/%Y") in section  # decision date
    assert "Provincial People" in section  # the issuing level
    assert listed(client, "?stars=3") == [item.id] and listed(client, "?stars=5") == []


# ---------------------------------------------------------------- the product page

@pytest.fixture
def na(seller):
    return product(seller, name="Na dai Chi Lăng", name_en="Chi Lang custard apple", slug="na-dai-chi-lang",
                   description="Na chín cây.\nHái buổi sáng.", category=Category.FRESH_PRODUCE, unit=Unit.KG,
                   base_price_vnd=60000, min_order_qty=100, order_increment=10, tiers=[(500, 55000), (2000, 50000)],
                   capacity_qty=20000, capacity_period="season", lead_time_days=3,
                   harvest_month_mask=(1 << 6) | (1 << 7) | (1 << 8), stars=4,
                   certification_rows=[ProductCertification(code=Certification.VIETGAP),
                                       ProductCertification(code=Certification.ORGANIC)])


def test_product_page_shows_the_wholesale_terms(client, na, seller, english):
    page = html(client.get(f"/products/{na.id}/na-dai-chi-lang"))
    table = page[page.index("<table"):page.index("</table>")]
    rows = re.findall(r'<tr><th scope="row">(.*?)</th>\s*<td>(.*?)</td></tr>', table)
    assert rows == [("from 100 kg", "₫60,000/kg"), ("from 500 kg", "₫55,000/kg"), ("from 2,000 kg", "₫50,000/kg")]
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page))
    for fact in ("Minimum order 100 kg", "Order in multiples of 10 kg", "Capacity 20,000 kg per season",
                 "Lead time 3 days", "Season July, August, September", "Certifications Organic, VietGAP",
                 "from ₫50,000/kg", "Category Fresh produce", "Unit of sale kg"):
        assert fact in text, fact
    assert '<p class="product-name-en" lang="en">Chi Lang custard apple</p>' in page
    assert '<p class="description" lang="vi">Na chín cây.\nHái buổi sáng.</p>' in page  # newlines kept, CSS shows them
    assert f'<a href="/cooperatives/{seller.id}">{seller.legal_name}</a>' in page
    assert f'<img src="/products/{na.id}/qr.svg" width="148" height="148"' in page
    assert f'href="/products/{na.id}/label"' in page
    assert f'<link rel="canonical" href="http://127.0.0.1:5000/products/{na.id}/na-dai-chi-lang">' in page


def test_the_english_name_is_shown_only_in_english(client, na):
    page = html(client.get(f"/products/{na.id}/na-dai-chi-lang"))
    assert "Chi Lang custard apple" not in page
    assert "Tháng 7, Tháng 8, Tháng 9" in page  # Vietnamese month names


def test_missing_facts_are_said_plainly(client, seller, english):
    item = product(seller, capacity_qty=None, lead_time_days=None, harvest_month_mask=0, description="")
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html(client.get(f"/products/{item.id}/{item.slug}"))))
    assert "Capacity Ask the cooperative" in text and "Lead time Ask the cooperative" in text
    assert "Season Ask the cooperative" in text and "Description" not in text and "No photo yet." in text


def test_gallery_shows_the_cover_large_and_other_photos_as_thumbnails(client, seller):
    names = ["a" * 32, "b" * 32, "c" * 32]
    item = product(seller, images=[photo_row(n, position=i) for i, n in enumerate(names)])
    page = html(client.get(f"/products/{item.id}/{item.slug}"))
    gallery = page[page.index('class="product-gallery"'):page.index('class="product-summary"')]
    assert f'<a href="/media/products/{"a" * 32}.webp">' in gallery
    assert re.search(rf'class="product-cover" src="/media/products/{"a" * 32}/thumb.webp"', gallery)
    for name in names[1:]:
        assert f'<a href="/media/products/{name}.webp">' in gallery
        assert f'src="/media/products/{name}/thumb.webp"' in gallery
    assert gallery.count('loading="lazy"') == 2  # the cover loads at once


def test_wrong_or_missing_slug_redirects_to_the_canonical_address(client, na):
    for path in (f"/products/{na.id}", f"/products/{na.id}/old-name", f"/products/{na.id}/NA-DAI-CHI-LANG"):
        response = client.get(path)
        assert response.status_code == 301, path
        assert response.headers["Location"].removeprefix("http://localhost") == f"/products/{na.id}/na-dai-chi-lang"


def test_a_slug_that_names_another_page_keeps_the_short_address(client, seller):
    item = product(seller, name="Edit", slug="edit")  # /products/<id>/edit is the workspace's page
    assert "product-gallery" in html(client.get(f"/products/{item.id}"))  # no redirect to /edit
    assert f'href="/products/{item.id}"' in html(client.get("/products"))


@pytest.mark.parametrize("path", ["/products/{id}", "/products/{id}/{slug}", "/products/{id}/qr.svg", "/products/{id}/label"])
@pytest.mark.parametrize("case", ["draft", "hidden", "pending seller", "suspended seller", "rejected seller"])
def test_products_that_are_not_public_are_not_found(client, path, case):
    if case.endswith("seller"):
        item = product(cooperative(status=case.split()[0]))
    else:
        item = product(cooperative(), status=case)
    response = client.get(path.format(id=item.id, slug=item.slug))
    assert response.status_code == 404
    assert item.name not in response.get_data(as_text=True)


@pytest.mark.parametrize("path", ["/products/999999", "/products/2147483648", "/products/99999999999999999999/x",
                                  "/cooperatives/2147483648", "/products/0/label", "/products/-1"])
def test_unknown_and_out_of_range_ids_are_not_found(client, path):
    assert client.get(path).status_code == 404


# ---------------------------------------------------------------- the cooperative page

def test_cooperative_page_shows_public_facts_and_products_but_not_the_classification(client, english):
    seller = cooperative(legal_name="HTX Nông sản sạch Tràng Định", member_count=1234, founded_year=2009,
                         classification="weak", phone="0205999888", email="secret@htx.example",
                         representative="Hoàng Văn Bí Mật")
    shown = [product(seller) for _ in range(3)]
    hidden = product(seller, status="draft")
    product(cooperative())  # another seller's
    page = html(client.get(f"/cooperatives/{seller.id}"))
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page))
    assert "HTX Nông sản sạch Tràng Định" in text
    assert "Year founded 2009" in text and "Members 1,234" in text and "Lạng Sơn" in text
    assert "Cooperative (hợp tác xã)" in text
    assert sorted(card_ids(page)) == sorted(p.id for p in shown) and hidden.id not in card_ids(page)
    for private in ("Weak", "weak", "Classification", "0205999888", "secret@htx.example", "Bí Mật"):
        assert private not in text, private


def test_cooperative_products_are_paginated(client, seller):
    items = [product(seller) for _ in range(26)]
    first = html(client.get(f"/cooperatives/{seller.id}"))
    assert len(card_ids(first)) == 24 and f'href="/cooperatives/{seller.id}?page=2"' in first
    second = card_ids(html(client.get(f"/cooperatives/{seller.id}?page=2")))
    assert sorted(card_ids(first) + second) == sorted(p.id for p in items)


def test_a_cooperative_without_products_has_an_empty_state(client, seller, english):
    assert "This cooperative has no product in the catalogue yet." in html(client.get(f"/cooperatives/{seller.id}"))


@pytest.mark.parametrize("status", ["pending", "rejected", "suspended"])
def test_unverified_cooperatives_are_not_found(client, status):
    assert client.get(f"/cooperatives/{cooperative(status=status).id}").status_code == 404


def test_enterprises_and_the_alliance_have_no_cooperative_page(client, enterprise_owner, alliance_user):
    for organisation in (enterprise_owner.organisation, alliance_user.organisation):
        assert client.get(f"/cooperatives/{organisation.id}").status_code == 404


# ---------------------------------------------------------------- XSS and template injection (rows 21, 22)

def test_user_text_is_escaped_everywhere(client):
    seller = cooperative(legal_name=f"HTX {XSS}")
    item = product(seller, name=f"Na {XSS}", name_en=f"Apple {XSS}", description="{{7*7}} {% raw %}\n" + XSS,
                   stars=4, images=[photo_row("d" * 32)])
    item.images[0].alt_text = XSS
    db.session.commit()
    paths = ["/", "/products", f"/products/{item.id}/{item.slug}", f"/products/{item.id}/label", f"/cooperatives/{seller.id}"]
    for path in paths:
        page = html(client.get(path))
        assert XSS not in page, path
        assert XSS_ESCAPED in page, path
        assert "<img src=x" not in page
    page = html(client.get(f"/products/{item.id}/{item.slug}"))
    assert "{{7*7}} {% raw %}" in page and "49" not in page.split('class="description"')[1][:40]
    client.post("/language", data={"lang": "en"})
    assert XSS not in html(client.get(f"/products/{item.id}/{item.slug}"))


# ---------------------------------------------------------------- QR code and label

def dark_modules(svg):
    """The dark modules drawn by segno's SVG path, relative to the top-left one (scale and border removed)."""
    path = re.search(rb'<path[^>]* d="([^"]+)"', svg).group(1).decode()
    x = y = 0.0
    dark = set()
    for command, numbers in re.findall(r"([MmHhVv])([-\d. ]+)", path):
        values = [float(v) for v in numbers.split()]
        if command == "M":
            x, y = values
        elif command == "m":
            x, y = x + values[0], y + values[1]
        elif command == "h":
            dark.update((int(y - 0.5), int(x) + step) for step in range(int(values[0])))
            x += values[0]
        else:
            raise AssertionError(f"unexpected path command {command}")
    top, left = min(r for r, _ in dark), min(c for _, c in dark)
    return {(r - top, c - left) for r, c in dark}


def matrix_modules(qr):
    return {(r, c) for r, row in enumerate(qr.matrix) for c, value in enumerate(row) if value}


def encodes(svg, url):
    return any(dark_modules(svg) == matrix_modules(segno.make(url, error=level, boost_error=False))
               for level in "lmqh")


def test_qr_code_encodes_the_public_product_url_whatever_the_host_header(make_app):
    app = make_app(PUBLIC_BASE_URL="https://chohtx.example.vn")
    with app.app_context():
        item = product(cooperative(), slug="mat-ong-bac-son")
        item_id = item.id
    client = app.test_client()
    for headers in ({}, {"Host": "evil.example"}, {"X-Forwarded-Host": "evil.example", "Host": "evil.example:8443"}):
        response = client.get(f"/products/{item_id}/qr.svg", headers=headers)
        assert response.status_code == 200
        assert response.mimetype == "image/svg+xml"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.cache_control.public and response.cache_control.max_age >= 3600
        expected = f"https://chohtx.example.vn/products/{item_id}/mat-ong-bac-son"
        assert encodes(response.data, expected)
        assert not encodes(response.data, f"http://evil.example/products/{item_id}/mat-ong-bac-son")
        assert b"<script" not in response.data.lower()


def test_label_is_printable_with_name_seller_origin_stars_qr_and_short_address(make_app):
    app = make_app(PUBLIC_BASE_URL="https://chohtx.example.vn")
    with app.app_context():
        seller = cooperative(legal_name="HTX Thủy sản Lê Hồng Phong")
        item = product(seller, name="Cá trắm đen", stars=3, province_code=20, commune_code=6040)
        item_id = item.id
    page = html(app.test_client().get(f"/products/{item_id}/label", headers={"Host": "evil.example"}))
    label = page[page.index('<article class="product-label"'):page.index("</article>")]
    for expected in ("Cá trắm đen", "HTX Thủy sản Lê Hồng Phong", "Lạng Sơn", "OCOP 3★",
                     f'src="/products/{item_id}/qr.svg"', f"https://chohtx.example.vn/products/{item_id}<"):
        assert expected in label, expected
    assert "evil.example" not in page
    assert '<script src="/static/js/print.js"></script>' in page and "data-print hidden" in page
    assert "@media print" in html(app.test_client().get("/static/css/app.css"))


# ---------------------------------------------------------------- photos (rows 27-29)

@pytest.fixture
def stored_photo(app):
    buffer = io.BytesIO()
    Image.new("RGB", (900, 600), (200, 120, 40)).save(buffer, "PNG")
    buffer.seek(0)
    name, _width, _height = images.store_photo(FileStorage(buffer, filename="../../app.py.png"))
    return name


@pytest.mark.parametrize("suffix, side", [(".webp", 900), ("/thumb.webp", 480)])
def test_photos_are_served_as_cacheable_webp(client, stored_photo, suffix, side):
    response = client.get(f"/media/products/{stored_photo}{suffix}")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "image/webp"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    cache = response.cache_control
    assert cache.public and cache.max_age == 31536000 and cache.immutable
    assert response.data[:4] == b"RIFF" and response.data[8:12] == b"WEBP"
    assert max(Image.open(io.BytesIO(response.data)).size) == side
    response.close()


@pytest.mark.parametrize("path", [
    "/media/products/{name}.WEBP",
    "/media/products/{upper}.webp",
    "/media/products/{upper}/thumb.webp",
    "/media/products/{name}_thumb.webp",
    "/media/products/{short}.webp",
    "/media/products/{name}0.webp",
    "/media/products/..%2f..%2f{name}.webp",
    "/media/products/..%2F..%2Fsecret_key.webp",
    "/media/products/%2e%2e%2f%2e%2e%2fapp.webp",
    "/media/products/..%5c..%5c{name}.webp",
    "/media/products/{name}%00.webp",
    "/media/products/{name}.webp%00.html",
    "/media/products/{name}.webp/",
    "/media/products/../products/{name}.html",
    "/media/products/{missing}.webp",
    "/media/products/{missing}/thumb.webp",
    "/media/products/{name}/thumb.webp.html",
    "/media/certificates/{name}.webp",
])
def test_photo_path_tricks_are_not_found(client, stored_photo, path):
    url = path.format(name=stored_photo, upper=stored_photo.upper(), short=stored_photo[:-1], missing="f" * 32)
    response = client.get(url)
    assert response.status_code in (404, 308) and response.mimetype != "image/webp", url
    if response.status_code == 308:  # Werkzeug's trailing-slash redirect, to the same kind of address
        assert client.get(response.headers["Location"]).status_code in (200, 404)


# ---------------------------------------------------------------- page weight on a phone's connection

class Resources(HTMLParser):
    """Same-origin stylesheets, scripts, images and icons a page makes the browser fetch."""

    def __init__(self):
        super().__init__()
        self.urls = set()

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "link" and {"stylesheet", "icon"} & set((attrs.get("rel") or "").split()):
            self.urls.add(attrs.get("href"))
        elif tag in ("script", "img") and attrs.get("src"):
            self.urls.add(attrs["src"])


BROWSER = {"Accept-Encoding": "gzip, deflate, br"}
BUDGET = 150 * 1024


def transferred(client, path):
    """Bytes on the wire for the page and what it loads (compressed as served), product photos excepted."""
    page = client.get(path, headers=BROWSER)
    assert page.status_code == 200
    total, parts = len(page.data), {path: len(page.data)}
    body = page.data
    if page.headers.get("Content-Encoding") == "gzip":
        body = gzip.decompress(body)
    elif page.headers.get("Content-Encoding") == "br":
        import brotli

        body = brotli.decompress(body)
    parser = Resources()
    parser.feed(body.decode())
    for url in sorted(u for u in parser.urls if u):
        assert url.startswith("/") and not url.startswith("//"), f"{url}: not same-origin"
        if url.startswith("/media/"):
            continue
        response = client.get(url, headers=BROWSER)
        assert response.status_code == 200, url
        parts[url] = len(response.data)
        total += len(response.data)
        response.close()
    return total, parts


def test_catalogue_and_product_pages_transfer_under_150_kb(client, seller):
    items = [product(seller, name=f"Sản phẩm OCOP số {n} của hợp tác xã", stars=3 + n % 3,
                     tiers=[(100, 90000), (500, 80000)], images=[photo_row(f"{n:032x}")] if n % 2 else [])
             for n in range(24)]
    catalogue_total, parts = transferred(client, "/products")
    assert len(card_ids(html(client.get("/products")))) == 24
    assert any("bootstrap" in url for url in parts) and "/static/css/app.css" in parts  # the measure is real
    assert catalogue_total < BUDGET, parts
    item = items[1]
    product_total, parts = transferred(client, f"/products/{item.id}/{item.slug}")
    assert f"/products/{item.id}/qr.svg" in parts
    assert product_total < BUDGET, parts


# ---------------------------------------------------------------- home page and navigation

def test_home_page_shows_the_six_latest_products_and_links_to_the_catalogue(client, seller):
    items = [product(seller) for _ in range(8)]
    product(seller, status="draft")
    page = html(client.get("/"))
    assert sorted(card_ids(page)) == sorted(p.id for p in items[-6:])
    assert page.count('href="/products"') >= 2  # the header and the strip


def test_everyone_sees_the_catalogue_in_the_header(client, auth, enterprise_owner, english):
    assert '<li><a href="/products">Catalogue</a></li>' in html(client.get("/"))
    auth.login(enterprise_owner.email)
    page = html(client.get("/"))
    assert '<li><a href="/products">Catalogue</a></li>' in page and "/alliance/certificates" not in page


def test_english_pages_show_english_names_and_units_that_agree_with_numbers(client, seller, english):
    """Issue 13: "100 fruits", "from 5 litres", and the English name on the cards when there is one."""
    na = product(seller, name="Na dai Chi Lăng", name_en="Chi Lang custard apple", unit=Unit.QUA, min_order_qty=100,
                 order_increment=1, base_price_vnd=15000)
    product(seller, name="Mật ong bạc hà", unit=Unit.LIT, min_order_qty=5, tiers=[(1, 400000)], base_price_vnd=450000)
    product(seller, name="Hồi khô", unit=Unit.TUI, min_order_qty=1)
    page = html(client.get("/products"))
    titles = re.findall(r'class="product-card-title"><a href="[^"]+" lang="(\w+)">([^<]+)</a>', page)
    assert sorted(titles) == [("en", "Chi Lang custard apple"), ("vi", "Hồi khô"), ("vi", "Mật ong bạc hà")]
    assert '<p class="product-card-name-vi" lang="vi">Na dai Chi Lăng</p>' in page  # the own name stays beside
    for moq in ("Minimum order: 100 fruits", "Minimum order: 5 litres", "Minimum order: 1 bag"):
        assert moq in page, moq
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html(client.get(f"/products/{na.id}/{na.slug}"))))
    assert "from 100 fruits" in text and "Minimum order 100 fruits" in text


def test_vietnamese_pages_keep_the_vietnamese_names(client, seller):
    product(seller, name="Na dai Chi Lăng", name_en="Chi Lang custard apple", unit=Unit.QUA, min_order_qty=100)
    page = html(client.get("/products"))
    assert 'lang="vi">Na dai Chi Lăng</a>' in page and "Chi Lang custard apple" not in page


def test_a_quantity_in_a_unit_agrees_with_the_number(app):
    from flask_babel import force_locale

    from marketplace.catalog.models import quantity_in_unit

    with app.test_request_context(), force_locale("en"):
        assert quantity_in_unit(1, Unit.QUA) == "1 fruit"
        assert quantity_in_unit(100, "qua") == "100 fruits"  # a code, as order lines keep it
        assert quantity_in_unit(5, Unit.LIT) == "5 litres" and quantity_in_unit(2000, Unit.KG) == "2,000 kg"
        assert quantity_in_unit(3, Unit.HOP) == "3 boxes" and quantity_in_unit(1, Unit.TAN) == "1 tonne"
        assert quantity_in_unit(7, "thuyen") == "7 thuyen"  # an unknown code is shown as it is


def test_a_language_without_the_plural_messages_shows_the_units_label(app):
    """Until the Vietnamese catalogue has a unit's plural message, "2 tấn", never the English "2 tonnes"."""
    from flask_babel import force_locale

    from marketplace.catalog import models

    with app.test_request_context(), force_locale("vi"):
        shown = models.quantity_in_unit(2, Unit.TAN)
        assert "tonne" not in shown and shown.startswith("2 ")
        assert models.quantity_in_unit(2000, "kg") == "2.000 kg"
