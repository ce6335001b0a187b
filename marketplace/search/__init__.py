"""Full-text search of the public catalogue (Whoosh): the only package that imports whoosh.

Interface (stable; bench/search_bench.py uses it):

    from marketplace.search import build_index, search, suggest

    build_index(index_dir, records, procs=1, limitmb=1024, progress=None) -> int
        Build (or rebuild in place) the index in `index_dir` from an iterable of records: plain dicts
        with the keys of documents.RECORD_FIELDS, e.g.
        {"id": 1, "name": "Mật ong rừng", "name_en": "Wild honey", "description": "...",
         "category": "processed_food", "cooperative_name": "HTX ...", "cooperative_type": "hop_tac_xa",
         "province_code": 20, "price_vnd": 250000, "certifications": ["vietgap"],
         "certificates": [(4, date(2027, 1, 31))], "published_at": datetime(...)}.
        `procs` > 1 indexes with that many processes; `limitmb` is each one's memory budget.

    search(index_dir_or_searcher, q, filters=None, sort="relevance", page=1, per_page=20,
           today=None, highlight=True) -> query.SearchResult
        filters: {"category": str, "province": int, "stars": 3|4|5, "certification": str,
                  "cooperative_type": str}; sort: relevance | price_asc | price_desc | stars | newest.
        The result has .ids (product ids of the page, best first), .total (all matches), .facets
        ({"category": {value: count}, "province": ..., "stars": ..., "certification": ...,
        "cooperative_type": ...}), .highlights ({id: {"name"|"name_en"|"snippet": [(text, matched)]}}),
        .suggestion ("did you mean" query or None), .partial (no product matched every word),
        .matches ({id: "all"|"typo"|"partial"}: how each result of the page matched) and .ignored
        (words of a buying request set aside, as typed).
        Pass a directory: each thread keeps one searcher per index, reopened only after a commit.
        Nothing caches results: every call reads its terms' postings and counts its facets.

    suggest(index_dir_or_searcher, q, limit=8) -> [(product id, name)]   completions of the last word

The web application uses sync.py (index updates after each database commit), cli.py
(`flask search rebuild|check`), views.py (/search, /search/suggest) and api/search.py.
"""
from marketplace.search.index import IndexUnavailable, build_index
from marketplace.search.query import SearchResult, search, suggest

__all__ = ["IndexUnavailable", "SearchResult", "build_index", "search", "suggest"]
