"""Structured logs: one line per record, a request id on every line logged during a request.

- `configure(fmt, level)` sends every logger to stderr, one line per record: JSON (the production
  default, python-json-logger) or text (development). gunicorn.conf.py hands gunicorn the same
  configuration (`logging_config`), so the server's own lines are JSON too.
- A log record factory copies the current request id (a context variable) onto every record as
  `request_id`, whichever logger or handler (pytest's caplog included) receives it.
- `RequestLog`, a WSGI middleware inside ProxyFix, gives each request its id (the proxy's
  `X-Request-ID` when TRUST_PROXY_HOPS > 0 and it looks sane, else a new one), echoes it in the
  response's `X-Request-ID` header and writes one access line per request (method, path, status,
  duration) on the `marketplace.access` logger. The path is logged without its query string, and
  URL segments that are secrets (`<token>` in a route: reset and invitation links) are replaced.
- With SQL_QUERY_COUNT_HEADER (off by default; the load benchmark turns it on) the middleware counts
  the SQL statements of each request and sends the count in `X-SQL-Queries` (and the access line).
"""
import contextvars
import logging
import logging.config
import os
import re
import time
import uuid

import sqlalchemy as sa

REQUEST_ID = contextvars.ContextVar("marketplace_request_id", default=None)
SQL_QUERIES = contextvars.ContextVar("marketplace_sql_queries", default=None)  # [count] while counting
HEADER = "X-Request-ID"
SQL_HEADER = "X-SQL-Queries"
# What a proxy may hand us: nginx's $request_id (32 hex digits), UUIDs and the like. Anything else
# (spaces, quotes, newlines, 200 characters) is replaced by our own id rather than logged.
SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,99}")
SECRET_URL_ARGUMENTS = frozenset({"token"})  # route variables whose value is never logged
REDACTED = "[redacted]"
FORMATS = ("json", "text")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"

access_log = logging.getLogger("marketplace.access")


# ---------------------------------------------------------------- records and formatters

def install_record_factory():
    """Make every log record carry the current request id (idempotent, process-wide)."""
    current = logging.getLogRecordFactory()
    if getattr(current, "adds_request_id", False):
        return

    def factory(*args, **kwargs):
        record = current(*args, **kwargs)
        request_id = REQUEST_ID.get()
        if request_id is not None:
            record.request_id = request_id
        return record

    factory.adds_request_id = True
    logging.setLogRecordFactory(factory)


class TextFormatter(logging.Formatter):
    """The development format: one line, with the request id or "-" outside a request."""

    def format(self, record):
        if not hasattr(record, "request_id"):
            record.request_id = "-"
        text = super().format(record)
        return text.replace("\n", "\n    ")  # a traceback stays visibly part of its record


def json_formatter():
    """One JSON object per line: timestamp (UTC), level, logger, message, request_id when in a
    request, the `extra` fields of the call, and exc_info as one string (newlines escaped)."""
    from pythonjsonlogger.json import JsonFormatter

    static = {"service": os.environ["MARKETPLACE_PROCESS"]} if os.environ.get("MARKETPLACE_PROCESS") else None
    return JsonFormatter(
        "%(levelname)s %(name)s %(message)s",
        rename_fields={"levelname": "level", "name": "logger"},
        timestamp=True,
        static_fields=static,
        json_ensure_ascii=False,  # Vietnamese stays readable
    )


def logging_config(fmt="json", level="INFO"):
    """A logging.config.dictConfig mapping: the root logger writes `fmt` lines to stderr; gunicorn's
    loggers pass their records to it (so they are formatted alike and never printed twice)."""
    if fmt not in FORMATS:
        raise ValueError(f"LOG_FORMAT must be one of {', '.join(FORMATS)}, not {fmt!r}")
    formatter = ({"()": "marketplace.logging_setup.json_formatter"} if fmt == "json"
                 else {"()": "marketplace.logging_setup.TextFormatter", "fmt": TEXT_FORMAT})
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"line": formatter},
        "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "line",
                                "stream": "ext://sys.stderr"}},
        "root": {"level": level.upper(), "handlers": ["stderr"]},
        "loggers": {
            "gunicorn.error": {"level": level.upper(), "handlers": [], "propagate": True},
            # The application writes the access lines (with the request id, secrets cut from the path);
            # gunicorn's own would repeat them with the whole URL, query string included.
            "gunicorn.access": {"level": "WARNING", "handlers": [], "propagate": True},
            "alembic.runtime.plugins": {"level": "WARNING"},  # a line per plugin in every worker
        },
    }


def configure(fmt="json", level="INFO"):
    """Configure the process's logging, unless something (gunicorn, pytest, a caller) already did."""
    install_record_factory()
    if logging.getLogger().handlers:
        return False
    logging.config.dictConfig(logging_config(fmt, level))
    return True


# ---------------------------------------------------------------- requests

def new_request_id():
    return uuid.uuid4().hex  # the shape of nginx's $request_id


class RequestLog:
    """WSGI middleware: request id, access line, and (when asked) the SQL statement count."""

    def __init__(self, app, wsgi_app):
        self.flask_app = app
        self.wsgi_app = wsgi_app
        self.trust_header = app.config["TRUST_PROXY_HOPS"] > 0
        self.count_sql = bool(app.config.get("SQL_QUERY_COUNT_HEADER"))
        self._secret_paths = None

    def request_id(self, environ):
        if self.trust_header:
            offered = environ.get("HTTP_X_REQUEST_ID", "")
            if SANE_REQUEST_ID.fullmatch(offered):
                return offered
        return new_request_id()

    def __call__(self, environ, start_response):
        started = time.perf_counter()
        request_id = self.request_id(environ)
        REQUEST_ID.set(request_id)
        counter = [0] if self.count_sql else None
        SQL_QUERIES.set(counter)
        environ["marketplace.request_id"] = request_id
        status_holder = []

        def start(status, headers, exc_info=None):
            status_holder[:] = [status]
            headers = [(name, value) for name, value in headers if name.lower() != HEADER.lower()]
            headers.append((HEADER, request_id))
            if counter is not None:
                headers.append((SQL_HEADER, str(counter[0])))
            return start_response(status, headers, exc_info)

        def finish():
            status = int(status_holder[0].split(" ", 1)[0]) if status_holder else 500
            self.log_access(environ, status, started, counter)
            SQL_QUERIES.set(None)
            REQUEST_ID.set(None)

        try:
            body = self.wsgi_app(environ, start)
        except BaseException:
            finish()
            raise
        return _ClosingBody(body, finish)

    def log_access(self, environ, status, started, counter):
        duration_ms = round((time.perf_counter() - started) * 1000, 1)
        method = environ.get("REQUEST_METHOD", "-")
        path = self.loggable_path(environ.get("PATH_INFO", "") or "/")
        extra = {"method": method, "path": path, "status": status, "duration_ms": duration_ms}
        if counter is not None:
            extra["sql_queries"] = counter[0]
        access_log.info("%s %s %s %.1f ms", method, path, status, duration_ms, extra=extra)

    def loggable_path(self, path):
        """The path with the values of secret route variables replaced."""
        for pattern in self.secret_paths():
            match = pattern.fullmatch(path)
            if match:
                spans = [match.span(name) for name in pattern.groupindex]
                for start, end in sorted(spans, reverse=True):
                    path = path[:start] + REDACTED + path[end:]
                break
        return path

    def secret_paths(self):
        # Built on first use: the blueprints are registered after the middleware is installed.
        if self._secret_paths is None:
            self._secret_paths = secret_path_patterns(self.flask_app.url_map)
        return self._secret_paths


class _ClosingBody:
    """The response body, calling `finish` once when the server closes it (after the last byte)."""

    def __init__(self, body, finish):
        self.body = body
        self.finish = finish

    def __iter__(self):
        return iter(self.body)

    def close(self):
        try:
            close = getattr(self.body, "close", None)
            if close is not None:
                close()
        finally:
            finish, self.finish = self.finish, None
            if finish is not None:
                finish()


def secret_path_patterns(url_map):
    """Regular expressions of the routes that carry a secret in their path, one named group per secret."""
    patterns = []
    for rule in url_map.iter_rules():
        if not SECRET_URL_ARGUMENTS & set(rule.arguments):
            continue
        regex, secrets_seen = "", 0
        for part in re.split(r"(<[^>]+>)", rule.rule):
            if part.startswith("<"):
                name = part[1:-1].split(":")[-1]
                if name in SECRET_URL_ARGUMENTS:
                    regex += f"(?P<secret{secrets_seen}>[^/]+)"
                    secrets_seen += 1
                else:
                    regex += "[^/]+"
            else:
                regex += re.escape(part)
        patterns.append(re.compile(regex))
    return patterns


# ---------------------------------------------------------------- SQL statements per request

def _count_statement(*_args):
    counter = SQL_QUERIES.get()
    if counter is not None:
        counter[0] += 1


def _install_sql_counter():
    if not sa.event.contains(sa.engine.Engine, "before_cursor_execute", _count_statement):
        sa.event.listen(sa.engine.Engine, "before_cursor_execute", _count_statement)


# ---------------------------------------------------------------- wiring

def init_app(app):
    """Install the request log (call before ProxyFix wraps the app, so it sees the fixed environ)."""
    install_record_factory()
    if not app.testing:
        configure(app.config["LOG_FORMAT"], app.config["LOG_LEVEL"])
    if app.config.get("SQL_QUERY_COUNT_HEADER"):
        _install_sql_counter()
    app.wsgi_app = RequestLog(app, app.wsgi_app)
