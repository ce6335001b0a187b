"""A cache of rendered anonymous catalogue pages, in each worker's memory (issue 14).

The home page, the catalogue and product pages are the same for every visitor who is not logged in, in
one language, on one day (a badge's certificate expires at the end of a day). `cached_page` keeps the
rendered body of such a page and serves it again while the catalogue has not changed.

Invalidation follows the search change log (search/sync.py): every committed change to a product, its
price tiers, photos, certifications or OCOP certificates, or to a cooperative's status, name or type,
commits a `search_change` row in the same transaction, and that transaction raises the catalogue's
version (one row of `data_version`, marketplace/versions.py) just before it commits. The key of a cached
page holds that version, read by primary key on every request (the same cost however long the log grows);
a commit from any process changes it, so the next request of every worker renders afresh. The log's highest
id would not do: on PostgreSQL a transaction that took a lower id may commit after one with a higher id.
PAGE_CACHE_SECONDS bounds an entry's life anyway.

A page may depend on more than the database: the search page's results come from this host's index, which
applies the change log a moment after the commit (search/sync.py). `cached_page(also=...)` adds what such a
page also depends on to the key (for search: the index's generation and applied position), read before the
page is rendered, like the log's version, so a cached page is never older than its key.

Never cached: a logged-in person's page (it names them; those carry no-store, web.py), a request whose
session holds flashed messages, an answer other than 200. A CSRF token is never in the cache: a page that
has a form is rendered with a placeholder, which each answer replaces with the visitor's own token, masked
afresh (csrf.py). Anonymous pages have no such form today (the language switch is a link for them).

HTTP caching. A cached page's answer carries a weak ETag made from its key (page, path, language, day,
catalogue version, `also`'s value) and the code's fingerprint (templates, translations and Python sources, so
a release changes every tag); a request whose If-None-Match holds it gets 304 at once, without rendering or
reading the cache (its only cost is the version read). An answer holding nothing of one visitor (no CSRF
token: the placeholder was not used; the session unchanged) is `public`: browsers revalidate every time
(max-age=0), and shared caches may keep it PAGE_SHARED_CACHE_SECONDS (s-maxage), during which they may show a
change late; 0 (the default) asks them to revalidate too (no-cache). `Vary: Cookie`, because the language
comes from the session. An answer holding a token is `private, no-cache` and has no ETag (a 304 would bring
back a token of another session the browser may since have left).
"""
import hashlib
import re
import secrets
import threading
import time
from collections import OrderedDict
from functools import wraps
from pathlib import Path

from flask import current_app, g, get_template_attribute, has_request_context, make_response, request, session
from flask_babel import get_locale
from flask_login import current_user

from marketplace.csrf import masked_csrf_token
from marketplace.extensions import db

# Unguessable and different in each process: no page content can contain it by accident.
CSRF_PLACEHOLDER = f"csrf-placeholder-{secrets.token_hex(16)}"


class PageCache:
    """At most `entries` values (least recently used dropped first), each for at most `seconds` (None: no limit)."""

    def __init__(self, entries, seconds=None):
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

    def put(self, key, value, replaces=None):
        """Keep `value` under `key`. `replaces`: a test of the keys kept, true of those no one will ask for again
        (of an older version of the data), dropped now rather than when they come last."""
        expiry = float("inf") if self.seconds is None else time.monotonic() + self.seconds
        with self._lock:
            if replaces is not None:
                for old in [k for k in self._pages if replaces(k)]:
                    del self._pages[old]
            self._pages[key] = (expiry, value)
            self._pages.move_to_end(key)
            while len(self._pages) > self.entries:
                self._pages.popitem(last=False)

    def clear(self):
        with self._lock:
            self._pages.clear()


def init_app(app):
    """After csrf.init_app: our csrf_token() replaces the masked one's (csrf.py) in templates."""
    app.extensions["page_cache"] = PageCache(app.config["PAGE_CACHE_ENTRIES"], app.config["PAGE_CACHE_SECONDS"])
    app.extensions["private_page_cache"] = PageCache(app.config["PRIVATE_PAGE_CACHE_ENTRIES"],
                                                     app.config["PRIVATE_PAGE_CACHE_SECONDS"])
    app.jinja_env.globals["csrf_token"] = csrf_token
    app.jinja_env.globals["person_part"] = person_part
    app.context_processor(lambda: {"csrf_token": csrf_token})  # csrf.py's context processor puts its own


def csrf_token():
    """The visitor's CSRF token, masked anew (csrf.py); a placeholder while a page is rendered for the cache."""
    return CSRF_PLACEHOLDER if g.get("rendering_for_cache") else masked_csrf_token()


def catalogue_version():
    """What changes whenever a catalogue change commits, from any process (search/sync.py: one row's value). Read
    once a request (the page's key and the catalogue's kept province counts both need it); a request that changes
    the catalogue reads it again after."""
    from marketplace import versions
    from marketplace.search import sync

    if not has_request_context() or versions.pending(db.session, versions.CATALOGUE):
        return sync.version(db.session)
    if "catalogue_version" not in g:
        g.catalogue_version = sync.version(db.session)
    return g.catalogue_version


def _cacheable():
    return (current_app.config["PAGE_CACHE_SECONDS"] > 0 and request.method == "GET"
            and "_flashes" not in session and not current_user.is_authenticated)


def cached_page(view=None, *, also=None):
    """Serve the view's page from the cache while nothing it shows can have changed, with an ETag and a 304
    when the browser (or a proxy) holds it already (see the module).
    `also`: a function of no arguments giving what else the page depends on (hashable), made part of the key
    (and so of the ETag). Used bare (`@cached_page`) or with it (`@cached_page(also=...)`)."""
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
        tag = _etag(key)
        # "*" would match any tag, before the view could say the page is gone (404) or moved: only our own tags.
        if not request.if_none_match.star_tag and request.if_none_match.contains_weak(tag):
            return _shared(current_app.response_class(status=304), tag)
        body = cache.get(key)
        if body is None:
            response = _rendered_to_keep(view, args, kwargs)
            if response.status_code != 200 or response.direct_passthrough:
                return _with_token(response, response.get_data(as_text=True))
            body = response.get_data(as_text=True)
            cache.put(key, body)
        else:
            response = make_response(body)
            response.headers["X-Page-Cache"] = "hit"
        if CSRF_PLACEHOLDER in body or session.modified:
            response.cache_control.private = True
            response.cache_control.no_cache = True
            return _with_token(response, body)
        response.set_data(body)
        return _shared(response, tag)

    return wrapper


def _rendered_to_keep(view, args, kwargs, for_organisation=False):
    """The view's response as it is kept: each form's CSRF token a placeholder, and for an organisation's page the
    person's header parts too (each answer fills them in)."""
    g.rendering_for_cache, g.rendering_for_organisation = True, for_organisation
    try:
        return make_response(view(*args, **kwargs))
    finally:
        g.rendering_for_cache = g.rendering_for_organisation = False


def _shared(response, tag):
    """`response` as the same for every visitor asking for this page in this language (see the module)."""
    response.set_etag(tag, weak=True)
    response.cache_control.public = True
    seconds = current_app.config["PAGE_SHARED_CACHE_SECONDS"]
    if seconds > 0:
        response.cache_control.max_age = 0
        response.cache_control.s_maxage = seconds
    else:
        response.cache_control.no_cache = True
    response.vary.add("Cookie")
    return response


def _etag(key):
    digest = hashlib.sha256(repr((code_fingerprint(), current_app.config.get("PUBLIC_BASE_URL"), key)).encode())
    return digest.hexdigest()[:32]


def code_fingerprint():
    """A digest of what renders pages: templates, translations and the package's Python sources (read once
    per process, about 2 MB): a release changes every page's ETag even when the catalogue did not change."""
    roots = (Path(current_app.root_path), Path(current_app.root_path, current_app.template_folder))
    found = _FINGERPRINTS.get(roots)
    if found is None:
        digest = hashlib.sha256()
        for root in roots:
            for path in sorted(p for p in root.rglob("*") if p.suffix in {".py", ".html", ".txt", ".mo"}):
                digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes())
        found = _FINGERPRINTS[roots] = digest.hexdigest()
    return found


_FINGERPRINTS = {}  # the sources do not change while a process runs


def _with_token(response, body):
    if CSRF_PLACEHOLDER in body:  # each form its own mask, as when rendered (csrf.py: against BREACH)
        parts = body.split(CSRF_PLACEHOLDER)
        body = "".join(part + masked_csrf_token() for part in parts[:-1]) + parts[-1]
    response.set_data(body)
    return response


# ---------------------------------------------------------------- signed-in list pages

VERSION_IN_PRIVATE_KEY = -1
PERSON_PART = f"person-part-{secrets.token_hex(16)}"  # + ":name:" in a kept page: filled for each answer
PERSON_PARTS = {  # what person_part(name) shows: the macro of templates/_person_parts.html, and what it counts
    "menu_notices": "notices", "notices": "notices", "cart": "cart"}


def kept_for_the_organisation(view):
    """Serve a signed-in list page (an organisation's products, orders and MoUs; the alliance's queues, follow-up
    and dashboard) from this worker's memory while no record has changed anywhere (versions.RECORDS: any committed
    row of a table a page shows), to the members of the same organisation with the same role only: what such a
    page shows is decided by the organisation, its kind and status, and the role (accounts/authz.py), never by
    who the member is. What belongs to the person (their unread notices, their cart, in the header) is left out
    of the kept page and filled in for each answer (person_part), as is a fresh CSRF token in each form (the
    placeholder, as above). The key: the page (endpoint, path and query), the language, the day, the
    organisation's id, the role, the demo banner's cookie and the version, read first. The answer is still
    `no-store` for browsers and proxies (web.py) and has no ETag. Not kept: a page whose session holds flashed
    messages, one rendered by a transaction that changed records and has not committed, an answer other than
    200. Put it under @login_required, so that an anonymous visitor is sent to the login page first."""
    @wraps(view)
    def wrapper(*args, **kwargs):
        from marketplace import versions

        if not _keepable_for_the_organisation():
            return view(*args, **kwargs)
        version = versions.read(db.session, versions.RECORDS)  # first: the page is never older than its key
        if versions.pending(db.session, versions.RECORDS):
            return view(*args, **kwargs)
        cache = current_app.extensions["private_page_cache"]
        key = _organisation_key() + (version,)
        body = cache.get(key)
        if body is not None:
            response = make_response(body)
            response.headers["X-Page-Cache"] = "hit"
            return _for_this_person(response, body)
        # The person and their organisation came with the session (accounts/sessions.py), before the version was
        # read: a change of either committed between the two would be rendered as it was, under the newer version,
        # for every member of that role. Read them again (two statements, to render only) and key on what is read.
        user = current_user._get_current_object()
        db.session.expire(user.organisation)
        db.session.expire(user)
        key = _organisation_key() + (version,)
        response = _rendered_to_keep(view, args, kwargs, for_organisation=True)
        body = response.get_data(as_text=True)
        if response.status_code == 200 and not response.direct_passthrough:
            cache.put(key, body, replaces=lambda kept: kept[VERSION_IN_PRIVATE_KEY] != version)
        return _for_this_person(response, body)

    return wrapper


def person_part(name):
    """The header's part `name` (PERSON_PARTS) for the signed-in person: rendered now, or a placeholder while a
    page is rendered to be kept for the organisation (filled in for each answer by _for_this_person)."""
    if g.get("rendering_for_organisation"):
        return f"{PERSON_PART}:{name}:"  # letters, digits, "-" and ":": the same once escaped
    return _render_person_part(name)  # a macro's output: markup already


def _render_person_part(name):
    counts = g.setdefault("person_part_counts", {})  # once a request: two parts show the unread notices
    counted = PERSON_PARTS[name]
    if counted not in counts:
        counts[counted] = _count(counted) if current_user.is_authenticated else 0
    return get_template_attribute("_person_parts.html", name)(counts[counted])


def _count(counted):
    from marketplace.notices.services import unread_count
    from marketplace.orders.services import cart_size

    return unread_count(current_user) if counted == "notices" else cart_size(current_user)


def _for_this_person(response, body):
    if PERSON_PART in body:
        body = _PERSON_PARTS.sub(lambda found: _render_person_part(found.group(1)), body)
    return _with_token(response, body)


_PERSON_PARTS = re.compile(re.escape(PERSON_PART) + r":(\w+):")


def _keepable_for_the_organisation():
    return (current_app.config["PRIVATE_PAGE_CACHE_SECONDS"] > 0 and request.method == "GET"
            and "_flashes" not in session and current_user.is_authenticated)


def _organisation_key():
    from marketplace.catalog.services import today
    from marketplace.main.demo_banner import banner_shown

    return (request.endpoint, request.full_path, str(get_locale()), today(), current_user.organisation_id,
            current_user.role.value, banner_shown())
