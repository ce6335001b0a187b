"""Use cases of search for the page, the suggestions endpoint and the API.

The index returns product ids; products are loaded from the database (catalog.queries), which
checks again that each one is public, so a document not yet removed never shows a hidden product.
"""
from dataclasses import dataclass, field
from functools import cached_property

from flask import current_app
from flask_babel import lazy_gettext as _l

from marketplace import geo
from marketplace.accounts.models import CooperativeType, label
from marketplace.catalog.models import Category, Certification
from marketplace.catalog.queries import FILTER_CHECKS, public_products_by_ids
from marketplace.catalog.services import today
from marketplace.errors import InvalidParameter
from marketplace.querystring import whole_number_arg
from marketplace.search import index, query, sync

MAX_QUERY_LENGTH = 200
DEFAULT_PER_PAGE = 20  # the API's default
PAGE_PER_PAGE = 24  # the search page: a grid of 2, 3 or 4 cards per row
MAX_PER_PAGE = 100
MAX_PAGE = query.MAX_RESULTS  # with per_page=1, the last reachable result
PARAMETERS = ("q", *query.FILTERS, "sort", "page", "per_page")


@dataclass
class SearchParams:
    q: str = ""
    filters: dict = field(default_factory=dict)  # {"category": "aquatic", "province": 20, "stars": 4, ...}
    sort: str = "relevance"
    page: int = 1
    per_page: int = DEFAULT_PER_PAGE

    def args(self, **changes):
        """Query-string values of these parameters (for links that keep them), with changes."""
        values = {"q": self.q or None, **self.filters,
                  "sort": self.sort if self.sort != "relevance" else None}
        values.update(changes)
        return {name: value for name, value in values.items() if value not in (None, "")}

    def args_without_filters(self):
        return self.args(**dict.fromkeys(self.filters))


CHECKS = {
    **{name: FILTER_CHECKS[name] for name in query.FILTERS},
    "sort": lambda v: v if v in query.SORTS else None,
}


def parse_args(args, strict=False, per_page=None):
    """Search parameters from a query string. The page drops bad values (a shared link never
    breaks) and fixes `per_page`; the API (strict) raises InvalidParameter naming each bad or
    unknown parameter."""
    errors, params = {}, SearchParams()
    for name in sorted(set(args) - set(PARAMETERS)):
        errors[name] = _l("Unknown parameter.")
    q = args.get("q", "")
    if len(q) > MAX_QUERY_LENGTH:
        errors["q"] = _l("Use at most %(max)s characters.", max=MAX_QUERY_LENGTH)
    params.q = query.normalise_query(q, MAX_QUERY_LENGTH)
    params.page = whole_number_arg(args, "page", MAX_PAGE, 1, strict=strict, errors=errors)
    params.per_page = whole_number_arg(args, "per_page", MAX_PER_PAGE, DEFAULT_PER_PAGE, strict=strict, errors=errors)
    for name, check in CHECKS.items():
        raw = args.get(name)
        if raw is None or (raw == "" and not strict):
            continue
        value = check(raw)
        if value is None:
            errors[name] = _l("This value is not allowed here.")
        elif name in query.FILTERS:
            params.filters[name] = value
        else:
            setattr(params, name, value)
    if strict and errors:
        raise InvalidParameter.for_parameters(errors)
    if per_page:
        params.per_page = per_page
    return params


class ResultPages:
    """The paging interface of Flask-SQLAlchemy's Pagination (for the `pager` macro)."""

    def __init__(self, result):
        self.page, self.per_page, self.total, self.pages = result.page, result.per_page, result.total, result.pages
        self.has_prev, self.has_next = self.page > 1, self.page < self.pages
        self.prev_num, self.next_num = self.page - 1, self.page + 1

    def iter_pages(self, left_edge=2, left_current=2, right_current=4, right_edge=2):
        last = 0
        for number in range(1, self.pages + 1):
            if (number <= left_edge or self.page - left_current <= number <= self.page + right_current
                    or number > self.pages - right_edge):
                if last + 1 != number:
                    yield None
                yield number
                last = number


@dataclass
class SearchPage:
    params: SearchParams
    result: query.SearchResult
    products: list  # the page's Product rows, best first

    @property
    def pagination(self):
        return ResultPages(self.result)

    @cached_property
    def facets(self):
        return facet_options(self)

    @property
    def offset(self):
        return (self.result.page - 1) * self.result.per_page

    @property
    def full_matches(self):
        """The page's products that match every word (some through typo tolerance), best first."""
        return [product for product in self.products if self.result.matches[product.id] != query.PARTIAL]

    @property
    def related_products(self):
        """The page's products that match only some of the words: shown apart, under their own heading."""
        return [product for product in self.products if self.result.matches[product.id] == query.PARTIAL]


def _index_path():
    return current_app.config["SEARCH_INDEX_DIR"]


def _with_index(run):
    try:
        return run(_index_path())
    except index.IndexUnavailable:
        sync.catch_up(current_app._get_current_object())  # self-healing: builds a missing index once
        return run(_index_path())


def search_products(params):
    """One page of public products matching `params`, with facets, highlights and hints."""
    result = _with_index(lambda path: query.search(path, params.q, params.filters, params.sort, params.page,
                                                   params.per_page, today=today()))
    return SearchPage(params=params, result=result, products=public_products_by_ids(result.ids))


def suggestions(q, limit=8):
    """Names of public products completing what the buyer is typing: [(product id, name)]."""
    q = query.normalise_query(q, MAX_QUERY_LENGTH)
    if not q:
        return []
    return _with_index(lambda path: query.suggest(path, q, limit=limit, today=today()))


# ---------------------------------------------------------------- facets for the page

FACET_TITLES = {
    "category": _l("Category"),
    "province": _l("Province of origin"),
    "stars": _l("OCOP rating"),
    "certification": _l("Certification"),
    "cooperative_type": _l("Seller"),
}
ANY_VALUE = {
    "category": _l("All categories"),
    "province": _l("All provinces"),
    "stars": _l("Any rating"),
    "certification": _l("Any certification"),
    "cooperative_type": _l("All kinds of sellers"),
}


def value_label(name, value):
    if name == "category":
        return label(Category(value))
    if name == "province":
        return geo.province_name(int(value))
    if name == "stars":
        return _l("%(num)s stars", num=int(value))
    if name == "certification":
        return label(Certification(value))
    return label(CooperativeType(value))


def facet_options(page):
    """For each facet: (name, title, any-value label, [(value, label, count, selected)]): the values with
    matches, by count, stars by number and provinces in Vietnamese alphabetical order (people look a province
    up by its name); the chosen value stays listed even when nothing matches it."""
    facets = []
    for name in query.FILTERS:
        counts = dict(page.result.facets.get(name, {}))
        chosen = page.params.filters.get(name)
        if chosen is not None:
            counts.setdefault(str(chosen), 0)
        options = [(value, value_label(name, value), count, str(chosen) == value) for value, count in counts.items()]
        if name == "stars":
            options.sort(key=lambda option: option[0])
        elif name == "province":
            options.sort(key=lambda option: geo.sort_key(str(option[1])))
        facets.append((name, FACET_TITLES[name], ANY_VALUE[name], options))
    return facets
