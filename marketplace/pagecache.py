"""A cache of rendered anonymous catalogue pages, in each worker's memory (issue 14).

The home page, the catalogue and product pages are the same for every visitor who is not logged in, in
one language, on one day (a badge's certificate expires at the end of a day). `cached_page` keeps the
rendered body of such a page and serves it again while the catalogue has not changed.

Invalidation follows the search change log (search/sync.py): every committed change to a product, its
price tiers, photos, certifications or OCOP certificates, or to a cooperative's status, name or type,
commits a `search_change` row in the same transaction. The key of a cached page holds the log's
(number of rows, highest id), read with one statement on every request; a commit from any process
changes it, so the next request of every worker renders afresh. The count matters on PostgreSQL, where
a transaction that took a lower id may commit after one with a higher id (the highest id stays, the
count grows). PAGE_CACHE_SECONDS bounds an entry's life anyway.

A page may depend on more than the database: the search page's results come from this host's index, which
applies the change log a moment after the commit (search/sync.py). `cached_page(also=...)` adds what such a
page also depends on to the key (for search: the index's generation and applied position), read before the
page is rendered, like the log's version, so a cached page is never older than its key.

Never cached: a logged-in person's page (it names them; those carry no-store, web.py), a request whose
session holds flashed messages, an answer other than 200. The CSRF token of the language form is never
in the cache: the page is rendered with a placeholder, which each answer replaces with the visitor's
own token, masked afresh (csrf.py).
"""
import secrets
import threading
import time
from collections import OrderedDict
from functools import wraps

import sqlalchemy as sa
from flask import current_app, g, make_response, request, session
from flask_babel import get_locale
from flask_login import current_user

from marketplace.csrf import masked_csrf_token
from marketplace.extensions import db

# Unguessable and different in each process: no page content can contain it by accident.
CSRF_PLACEHOLDER = f"csrf-placeholder-{secrets.token_hex(16)}"


class PageCache:
    """At most `entries` pages (least recently used dropped first), each for at most `seconds`."""

    def __init__(self, entries, seconds):
        self.entries, self.seconds = entries, seconds
        self._pages = OrderedDict()
        self._lock = threading.Lock()  # gthread workers serve several requests at once

    def get(self, key):
        with self._lock:
            found = self._pages.get(key)
            if found is None:
                return None
            if found[0] < time.monotonic():
                del self._pages[key]
                return None
            self._pages.move_to_end(key)
            return found[1]

    def put(self, key, value):
        with self._lock:
            self._pages[key] = (time.monotonic() + self.seconds, value)
            self._pages.move_to_end(key)
            while len(self._pages) > self.entries:
                self._pages.popitem(last=False)

    def clear(self):
        with self._lock:
            self._pages.clear()


def init_app(app):
    """After csrf.init_app: our csrf_token() replaces the masked one's (csrf.py) in templates."""
    app.extensions["page_cache"] = PageCache(app.config["PAGE_CACHE_ENTRIES"], app.config["PAGE_CACHE_SECONDS"])
    app.jinja_env.globals["csrf_token"] = csrf_token
    app.context_processor(lambda: {"csrf_token": csrf_token})  # csrf.py's context processor puts its own


def csrf_token():
    """The visitor's CSRF token, masked anew (csrf.py); a placeholder while a page is rendered for the cache."""
    return CSRF_PLACEHOLDER if g.get("rendering_for_cache") else masked_csrf_token()


def catalogue_version():
    """What changes whenever a catalogue change commits, from any process: (rows, highest id) of the log."""
    from marketplace.search.models import SearchChange

    return tuple(db.session.execute(sa.select(sa.func.count(), sa.func.max(SearchChange.id))).one())


def _cacheable():
    return (current_app.config["PAGE_CACHE_SECONDS"] > 0 and request.method == "GET"
            and "_flashes" not in session and not current_user.is_authenticated)


def cached_page(view=None, *, also=None):
    """Serve the view's page from the cache while nothing it shows can have changed (see the module).
    `also`: a function of no arguments giving what else the page depends on (hashable), made part of the key.
    Used bare (`@cached_page`) or with it (`@cached_page(also=...)`)."""
    if view is None:
        return lambda view: cached_page(view, also=also)

    @wraps(view)
    def wrapper(*args, **kwargs):
        if not _cacheable():
            return view(*args, **kwargs)
        from marketplace.catalog.services import today

        cache = current_app.extensions["page_cache"]
        key = (request.endpoint, request.full_path, str(get_locale()), today(), catalogue_version())
        if also is not None:
            key += (also(),)
        body = cache.get(key)
        if body is None:
            g.rendering_for_cache = True
            try:
                response = make_response(view(*args, **kwargs))
            finally:
                g.rendering_for_cache = False
            if response.status_code != 200 or response.direct_passthrough:
                return _with_token(response, response.get_data(as_text=True))
            body = response.get_data(as_text=True)
            cache.put(key, body)
            return _with_token(response, body)
        response = make_response(body)
        response.headers["X-Page-Cache"] = "hit"
        return _with_token(response, body)

    return wrapper


def _with_token(response, body):
    if CSRF_PLACEHOLDER in body:  # each form its own mask, as when rendered (csrf.py: against BREACH)
        parts = body.split(CSRF_PLACEHOLDER)
        body = "".join(part + masked_csrf_token() for part in parts[:-1]) + parts[-1]
    response.set_data(body)
    return response
