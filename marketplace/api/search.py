"""API v1 search (issue 4): GET /api/v1/search, public like the catalogue reads (no token).

The same service as the /search page (marketplace.search.services); the query string is checked
strictly: an unknown, empty or out-of-range parameter is a 400, never silently ignored.
"""
from flask import jsonify, request, url_for
from markupsafe import escape

from marketplace.api import blueprint
from marketplace.catalog.public import canonical_slug
from marketplace.catalog.services import today
from marketplace.search import services


def marked_html(parts):
    """Highlighted text as HTML: the text escaped, each matching word in <mark>."""
    return "".join(f"<mark>{escape(text)}</mark>" if matched else str(escape(text)) for text, matched in parts)


def result_json(product, highlight, match, on):
    return {
        "id": product.id,
        "name": product.name,
        "url": url_for("catalog.product", product_id=product.id, slug=canonical_slug(product), _external=True),
        "cooperative": {"id": product.cooperative.id, "name": product.cooperative.legal_name},
        "price_vnd": product.lowest_price_vnd,
        "ocop_stars": product.ocop_stars(on),
        "match": match,
        "highlight": {
            "name": marked_html(highlight.get("name", [])) or str(escape(product.name)),
            "snippet": marked_html(highlight.get("snippet") or highlight.get("name_en") or []),
        },
    }


@blueprint.get("/search")
def search():
    page = services.search_products(services.parse_args(request.args, strict=True))
    on = today()
    result = page.result
    return jsonify({
        "results": [result_json(product, result.highlights.get(product.id, {}), result.matches[product.id], on)
                    for product in page.products],
        "total": result.total,
        "page": result.page,
        "per_page": result.per_page,
        "facets": result.facets,
        "suggestion": result.suggestion,
        "partial": result.partial,
        "ignored_words": list(result.ignored),
    })
