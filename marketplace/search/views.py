"""The search page (/search, shareable URLs: the query and filters are in the query string) and the
suggestions endpoint (/search/suggest, JSON for static/js/search-suggest.js). Public, no login."""
from flask import Blueprint, jsonify, render_template, request, url_for

from marketplace.pagecache import cached_page
from marketplace.search import services, sync

blueprint = Blueprint("search", __name__)
# Registering the blueprint turns on index updates after each database commit.
blueprint.record_once(lambda _state: sync.install())

SUGGEST_MAX_AGE = 60  # seconds a browser may reuse the suggestions for the same letters


@blueprint.get("/search")
@cached_page(also=sync.applied_version)  # results come from this host's index: its version is in the key too
def search():
    # Lenient: a bad value is dropped, never an error page.
    params = services.parse_args(request.args, per_page=services.PAGE_PER_PAGE)
    return render_template("search/results.html", page=services.search_products(params))


@blueprint.get("/search/suggest")
def suggest():
    q = request.args.get("q", "")
    found = services.suggestions(q)
    response = jsonify({
        "query": q[:services.MAX_QUERY_LENGTH],
        "suggestions": [{"text": name, "url": url_for("catalog.product", product_id=product_id)}
                        for product_id, name in found],
    })
    response.cache_control.public = True
    response.cache_control.max_age = SUGGEST_MAX_AGE
    return response
