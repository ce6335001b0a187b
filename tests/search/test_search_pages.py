"""The search page (/search), the suggestions endpoint (/search/suggest) and GET /api/v1/search."""
import re
from datetime import date, timedelta
from html import unescape

import pytest

from marketplace import geo
from marketplace.search import index as search_index
from tests import factories


@pytest.fixture(autouse=True)
def _close_searchers():
    yield
    search_index.close_searchers()


@pytest.fixture
def shop(app, cooperative_owner, pending_cooperative_owner):
    """A few public products (the index follows each commit), a draft and an unverified seller's product."""
    own = cooperative_owner.organisation
    own.legal_name = "HTX Nông sản sạch Tràng Định"
    products = {
        "thach": factories.product(own, name="Cây thạch đen khô Tràng Định", name_en="Dried black jelly grass",
                                   description="Cây thạch đen trồng trên đồi, phơi khô tự nhiên.", stars=4,
                                   category="processed_food", base_price_vnd=55000),
        "bot": factories.product(own, name="Bột thạch đen hòa tan", category="processed_food", stars=3,
                                 base_price_vnd=35000),
        "gao": factories.product(own, name="Gạo Bao Thai Tràng Định", category="fresh_produce", base_price_vnd=18000),
        "dau": factories.product(own, name="Dâu tây", category="fresh_produce", base_price_vnd=90000),
        "dau2": factories.product(own, name="Đậu phộng", category="processed_food", base_price_vnd=40000),
        "draft": factories.product(own, name="Thạch đen nháp", status="draft"),
        "pending": factories.product(pending_cooperative_owner.organisation, name="Thạch đen chưa duyệt"),
    }
    return products


def titles(html):
    return [unescape(t) for t in re.findall(r'class="product-card-title"><a [^>]*>([^<]*)</a>', html)]


def test_the_search_page_finds_products_without_diacritics_and_marks_the_matches(client, shop):
    response = client.get("/search?q=thach+den")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    # Both names hold both words; the shorter name is the closer match.
    assert titles(html) == ["Bột thạch đen hòa tan", "Cây thạch đen khô Tràng Định"]
    assert '<mark>thạch</mark> <mark>đen</mark> trồng trên đồi' in html  # the description's words, as written
    assert "Thạch đen nháp" not in html and "chưa duyệt" not in html


def test_the_page_shows_facets_with_counts_and_filters_combine_with_the_query(client, shop):
    html = client.get("/search?q=thach+den").get_data(as_text=True)
    assert re.search(r'<option value="4">[^<]*\(1\)</option>', html)
    assert re.search(r'<option value="3">[^<]*\(1\)</option>', html)
    assert re.search(r'<option value="processed_food">[^<]*\(2\)</option>', html)

    html = client.get("/search?q=thach+den&stars=4").get_data(as_text=True)
    assert titles(html) == ["Cây thạch đen khô Tràng Định"]
    assert re.search(r'<option value="4" selected>', html)
    # The filter can be removed with a link that keeps the query.
    assert 'href="/search?q=thach+den"' in html


def test_the_province_facet_lists_provinces_with_matches_in_vietnamese_order(app, client, cooperative_owner):
    codes = {name: code for code, name in geo.provinces()}
    own = cooperative_owner.organisation
    for count, name in enumerate(("Thành phố Huế", "Cao Bằng", "Thành phố Hà Nội", "Cà Mau", "Điện Biên"), start=1):
        for n in range(count):
            factories.product(own, name=f"Mật ong {name} {n}", province_code=codes[name], commune_code=None)
    html = client.get("/search?q=mat+ong").get_data(as_text=True)
    select = re.search(r'<select class="form-select" id="filter-province" name="province"[^>]*>(.*?)</select>', html, re.S)
    options = re.findall(r'<option value="(\d+)">\s*([^<]+?)\s*</option>', select.group(1))
    assert options == [(str(codes[name]), f"{name} ({count})") for name, count in (
        ("Cà Mau", 4), ("Cao Bằng", 2), ("Điện Biên", 5), ("Thành phố Hà Nội", 3), ("Thành phố Huế", 1))]


def test_results_sort_and_page_through_shareable_urls(client, shop):
    html = client.get("/search?category=fresh_produce&category=&sort=price_asc").get_data(as_text=True)
    assert titles(html) == ["Gạo Bao Thai Tràng Định", "Dâu tây"]
    html = client.get("/search?sort=price_desc").get_data(as_text=True)
    assert titles(html)[0] == "Dâu tây"


def test_paging_links_keep_the_query_and_filters(app, client, cooperative_owner):
    for n in range(30):
        factories.product(cooperative_owner.organisation, name=f"Chè xanh lô {n}", category="beverages")
    html = client.get("/search?q=che&category=beverages").get_data(as_text=True)
    assert len(titles(html)) == 24
    assert 'href="/search?page=2&amp;q=che&amp;category=beverages"' in html
    second = client.get("/search?page=2&q=che&category=beverages").get_data(as_text=True)
    assert len(titles(second)) == 6 and not set(titles(second)) & set(titles(html))


def test_exact_diacritics_rank_first_on_the_page(client, shop):
    assert titles(client.get("/search?q=dâu").get_data(as_text=True))[0] == "Dâu tây"
    assert titles(client.get("/search?q=đậu").get_data(as_text=True))[0] == "Đậu phộng"


def test_did_you_mean_and_the_partial_notice(client, shop):
    html = client.get("/search?q=thach+dden").get_data(as_text=True)
    assert 'href="/search?q=th%E1%BA%A1ch+%C4%91en"' in html  # "did you mean: thạch đen", as the names write it
    assert 'class="search-note"' in html  # "thach" alone matched: a partial result
    assert titles(html)  # never an empty page when some words match


def related_titles(html):
    section = html.split('class="related-results"', 1)
    return titles(section[1]) if len(section) == 2 else []


def test_partial_matches_are_shown_apart_under_their_own_heading(client, english, shop, cooperative_owner):
    factories.product(cooperative_owner.organisation, name="Thạch trắng", category="processed_food")
    html = client.get("/search?q=thach+dden").get_data(as_text=True)
    assert "Related products" in html
    assert related_titles(html) == titles(html)  # nothing matched both words: all of them are related products
    assert related_titles(html)[:2] == ["Bột thạch đen hòa tan", "Dried black jelly grass"]  # English names
    assert "Did you mean:" in html  # three results, but only partial ones

    html = client.get("/search?q=thach+den").get_data(as_text=True)
    assert "Related products" not in html and related_titles(html) == []
    assert titles(html) == ["Bột thạch đen hòa tan", "Dried black jelly grass"]


def test_the_page_says_which_results_needed_a_typo_and_which_words_it_set_aside(client, english, shop):
    html = client.get("/search?q=c%E1%BA%A7n+mua+th%E1%BA%A1ch+%C4%91en+gi%C3%A1+s%E1%BB%89").get_data(as_text=True)
    assert titles(html) == ["Bột thạch đen hòa tan", "Dried black jelly grass"]  # English names in English
    assert "Not searched for, as they name no product:" in html and "cần, mua, giá, sỉ" in html
    assert "Related products" not in html and "Did you mean" not in html


def test_a_result_found_through_a_typo_says_so(client, english, cooperative_owner):
    factories.product(cooperative_owner.organisation, name="Quế vỏ khô", name_en="Dried cinnamon bark")
    html = client.get("/search?q=cinamon").get_data(as_text=True)
    assert titles(html) == ["Dried cinnamon bark"]
    assert "Found with a similar spelling" in html and "Did you mean:" in html
    assert "Found with a similar spelling" not in client.get("/search?q=cinnamon").get_data(as_text=True)


def test_an_empty_result_explains_what_to_do(client, shop):
    html = client.get("/search?q=xyzxyz").get_data(as_text=True)
    assert titles(html) == []
    assert 'class="empty-state"' in html and 'href="/products"' in html


def test_bad_parameters_are_dropped_on_the_page(client, shop):
    response = client.get("/search?q=thach&stars=9&province=abc&sort=%27+OR+1%3D1--&page=-1&colour=red")
    assert response.status_code == 200
    assert len(titles(response.get_data(as_text=True))) == 2


def test_product_names_are_escaped_in_results_and_highlights(client, cooperative_owner):
    factories.product(cooperative_owner.organisation, name='Mật ong "><img src=x onerror=alert(1)>',
                      description="<script>alert(1)</script> mật ong")
    html = client.get("/search?q=mat+ong").get_data(as_text=True)
    assert "<img src=x" not in html and "<script>alert(1)" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; <mark>mật</mark> <mark>ong</mark>" in html


def test_every_page_has_the_search_box_in_its_header(client, shop):
    html = client.get("/products").get_data(as_text=True)
    assert re.search(r'<form class="site-search" role="search" method="get" action="/search"', html)
    assert 'data-suggest-url="/search/suggest"' in html
    assert '<script src="/static/js/search-suggest.js" defer>' in html


def test_suggestions_complete_the_last_word_as_json(client, shop):
    response = client.get("/search/suggest?q=thach+d")
    assert response.status_code == 200 and response.is_json
    suggestions = response.get_json()["suggestions"]
    assert [s["text"] for s in suggestions] == ["Bột thạch đen hòa tan", "Cây thạch đen khô Tràng Định"]
    assert suggestions[1]["url"] == f"/products/{shop['thach'].id}"
    assert client.get("/search/suggest?q=t").get_json()["suggestions"] == []
    assert client.get("/search/suggest").get_json()["suggestions"] == []


# ---------------------------------------------------------------- the API

def test_the_api_returns_results_facets_and_highlights(client, shop):
    response = client.get("/api/v1/search?q=thach+den&stars=4&per_page=1")
    assert response.status_code == 200
    body = response.get_json()
    assert body["total"] == 1 and body["page"] == 1 and body["per_page"] == 1 and body["partial"] is False
    first = body["results"][0]
    assert first["id"] == shop["thach"].id
    assert first["name"] == "Cây thạch đen khô Tràng Định"
    assert first["url"].endswith(f"/products/{shop['thach'].id}/{shop['thach'].slug}")
    assert first["cooperative"] == {"id": shop["thach"].cooperative_id, "name": "HTX Nông sản sạch Tràng Định"}
    assert first["price_vnd"] == 55000 and first["ocop_stars"] == 4
    assert first["highlight"]["name"] == "Cây <mark>thạch</mark> <mark>đen</mark> khô Tràng Định"
    assert body["facets"]["stars"] == {"3": 1, "4": 1}  # the stars facet ignores its own filter
    assert body["facets"]["category"] == {"processed_food": 1}
    assert body["suggestion"] is None


def test_the_api_escapes_highlights(client, cooperative_owner):
    factories.product(cooperative_owner.organisation, name="Mật ong <b>rừng</b>")
    body = client.get("/api/v1/search?q=rung").get_json()
    assert body["results"][0]["highlight"]["name"] == "Mật ong &lt;b&gt;<mark>rừng</mark>&lt;/b&gt;"


def test_the_api_filters_sorts_and_suggests(client, shop):
    body = client.get("/api/v1/search?category=fresh_produce&sort=price_asc").get_json()
    assert [r["name"] for r in body["results"]] == ["Gạo Bao Thai Tràng Định", "Dâu tây"]
    body = client.get("/api/v1/search?q=thach+dden").get_json()
    assert body["suggestion"] == "thạch đen" and body["partial"] is True


def test_the_api_says_how_each_result_matched(client, shop, cooperative_owner):
    factories.product(cooperative_owner.organisation, name="Quế vỏ khô", name_en="Dried cinnamon bark")
    factories.product(cooperative_owner.organisation, name="Quế chi", name_en="Cinnamon twigs")
    body = client.get("/api/v1/search?q=thach+den").get_json()
    assert [r["match"] for r in body["results"]] == ["all", "all"] and body["ignored_words"] == []
    body = client.get("/api/v1/search?q=dried+cinamon").get_json()
    assert [(r["name"], r["match"]) for r in body["results"]] == [("Quế vỏ khô", "typo")]
    assert body["suggestion"] == "dried cinnamon"
    body = client.get("/api/v1/search?q=thach+dden").get_json()
    assert {r["match"] for r in body["results"]} == {"partial"}
    body = client.get("/api/v1/search?q=can+mua+thach+den+so+luong+lon").get_json()
    assert [r["match"] for r in body["results"]] == ["all", "all"]
    assert body["ignored_words"] == ["can", "mua", "so", "luong", "lon"] and body["partial"] is False
    body = client.get("/api/v1/search?category=fresh_produce").get_json()
    assert {r["match"] for r in body["results"]} == {"all"}


@pytest.mark.parametrize("query", ["colour=red", "stars=6", "category=", "sort=name", "page=0", "page=1001",
                                   "per_page=101", "province=99999", "q=" + "x" * 201])
def test_the_api_refuses_bad_parameters(client, shop, query):
    response = client.get(f"/api/v1/search?{query}")
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "invalid_parameter"


def test_expired_badges_are_neither_counted_nor_shown(client, cooperative_owner):
    factories.product(cooperative_owner.organisation, name="Rượu na", stars=3,
                      expires_on=date.today() - timedelta(days=2))
    body = client.get("/api/v1/search?q=ruou").get_json()
    assert body["results"][0]["ocop_stars"] is None
    assert body["facets"]["stars"] == {}
    assert client.get("/api/v1/search?q=ruou&stars=3").get_json()["total"] == 0


def test_the_openapi_document_states_the_match_contract():
    from marketplace.api.openapi import openapi_document
    from marketplace.search import query

    schemas = openapi_document()["components"]["schemas"]
    assert "match" in schemas["SearchResult"]["required"]
    assert schemas["SearchResult"]["properties"]["match"]["enum"] == ["all", "typo", "partial"]
    assert (query.ALL, query.TYPO, query.PARTIAL) == ("all", "typo", "partial")
    assert "ignored_words" in schemas["SearchPage"]["required"]
