"""Structured logs (issue 8): a request id on every line of a request, echoed in X-Request-ID; one
access line per request; JSON lines; no secret in any log line, logging in included."""
import json
import logging

import pytest

from marketplace import logging_setup
from tests import factories
from tests.support import login_with_form

ACCESS = "marketplace.access"


@pytest.fixture
def logs(caplog):
    caplog.set_level(logging.DEBUG)
    return caplog


def _noisy_view():
    logging.getLogger("marketplace.example").info("first line")
    logging.getLogger("werkzeug.example").warning("second line, another logger")
    return "done"


def records_of(caplog, request_id):
    return [r for r in caplog.records if getattr(r, "request_id", None) == request_id]


def test_every_line_of_a_request_carries_its_id_and_the_response_echoes_it(make_app, logs):
    app = make_app()
    app.add_url_rule("/noisy", "noisy", _noisy_view)
    client = app.test_client()
    first = client.get("/noisy", buffered=True)
    second = client.get("/noisy", buffered=True)

    ids = [first.headers["X-Request-ID"], second.headers["X-Request-ID"]]
    assert ids[0] != ids[1] and all(len(i) == 32 for i in ids)
    for request_id in ids:
        lines = records_of(logs, request_id)
        assert [r.getMessage() for r in lines if r.name != ACCESS] == ["first line", "second line, another logger"]
        access = [r for r in lines if r.name == ACCESS]
        assert len(access) == 1
        assert (access[0].method, access[0].path, access[0].status) == ("GET", "/noisy", 200)
        assert access[0].duration_ms >= 0
    # Lines logged outside a request carry no id.
    logging.getLogger("marketplace.example").info("between requests")
    assert not hasattr(logs.records[-1], "request_id")


def test_the_proxy_request_id_is_used_only_behind_a_trusted_proxy_and_when_sane(make_app, logs):
    direct = make_app().test_client()
    assert direct.get("/healthz", headers={"X-Request-ID": "from-the-internet-1"}).headers["X-Request-ID"] != \
        "from-the-internet-1"

    proxied = make_app(TRUST_PROXY_HOPS=1).test_client()
    nginx_id = "0123456789abcdef0123456789abcdef"
    response = proxied.get("/healthz", headers={"X-Request-ID": nginx_id}, buffered=True)
    assert response.headers["X-Request-ID"] == nginx_id
    assert [r.name for r in records_of(logs, nginx_id)][-1] == ACCESS
    for insane in ("a b", "x" * 101, "id\nforged log line", "<script>", "-starts-with-a-dash", ""):
        echoed = proxied.get("/healthz", environ_overrides={"HTTP_X_REQUEST_ID": insane}).headers["X-Request-ID"]
        assert echoed != insane and len(echoed) == 32


def test_access_lines_leave_out_query_strings_and_secret_path_segments(make_app, logs):
    client = make_app().test_client()
    secret = "Zm9vYmFyLXNlY3JldC10b2tlbi0xMjM0NTY3ODkw"
    for path in (f"/reset-password/{secret}", f"/invitations/{secret}", f"/workspace/import/{secret}"):
        client.get(path, buffered=True)
        client.get(path, method="PUT", buffered=True)  # 405 from routing: still cut
    client.get("/products?q=private+words", buffered=True)
    paths = [r.path for r in logs.records if r.name == ACCESS]
    assert paths[:6] == ["/reset-password/[redacted]"] * 2 + ["/invitations/[redacted]"] * 2 + \
        ["/workspace/import/[redacted]"] * 2
    assert paths[6] == "/products"
    assert secret not in logs.text and "private" not in logs.text


def test_logging_in_logs_no_password_token_or_key(make_app, logs):
    app = make_app(WTF_CSRF_ENABLED=True)
    with app.app_context():
        user = factories.user(factories.organisation(), email="owner@htx.example")
        email = user.email
    client = app.test_client()
    response = login_with_form(client, email, buffered=True)
    assert response.status_code == 302
    failed = login_with_form(app.test_client(), email, password="sai mật khẩu rồi nhé", buffered=True)
    assert failed.status_code == 401
    cookie = client.get_cookie("session").value
    lines = [logging_setup.json_formatter().format(record) for record in logs.records]
    assert any('"path": "/login"' in line for line in lines)
    text = "\n".join(lines) + logs.text
    for secret in (factories.PASSWORD, "sai mật khẩu rồi nhé", app.config["SECRET_KEY"], cookie):
        assert secret not in text


def test_json_lines_are_one_object_per_record_even_with_a_traceback(make_app, logs):
    formatter = logging_setup.json_formatter()
    logger = logging.getLogger("marketplace.example")
    logging_setup.REQUEST_ID.set("abc123")
    try:
        try:
            raise ValueError("broken\nacross lines")
        except ValueError:
            logger.exception("Chợ HTX: lỗi")
    finally:
        logging_setup.REQUEST_ID.set(None)
    line = formatter.format(logs.records[-1])
    assert "\n" not in line
    parsed = json.loads(line)
    assert parsed["message"] == "Chợ HTX: lỗi" and parsed["level"] == "ERROR"
    assert parsed["request_id"] == "abc123" and parsed["logger"] == "marketplace.example"
    assert "ValueError: broken" in parsed["exc_info"] and parsed["timestamp"].endswith("+00:00")


def test_text_format_for_development_shows_the_request_id_or_a_dash(logs):
    formatter = logging_setup.TextFormatter(logging_setup.TEXT_FORMAT)
    logging_setup.REQUEST_ID.set(None)  # a test client's unclosed response keeps its id until the next request
    logging.getLogger("marketplace.example").info("outside")
    assert formatter.format(logs.records[-1]).endswith("INFO marketplace.example [-] outside")


def test_the_logging_configuration_is_checked():
    with pytest.raises(ValueError, match="LOG_FORMAT"):
        logging_setup.logging_config("xml")
    config = logging_setup.logging_config("json", "warning")
    assert config["root"]["level"] == "WARNING"
    assert config["loggers"]["gunicorn.access"]["level"] == "WARNING"  # the app writes the access lines


def test_sql_statements_are_counted_only_when_asked(make_app, cooperative_owner):
    plain = make_app().test_client().get("/products")
    assert "X-SQL-Queries" not in plain.headers
    counted = make_app(SQL_QUERY_COUNT_HEADER=True).test_client()
    assert counted.get("/healthz").headers["X-SQL-Queries"] == "1"  # SELECT 1
    assert 1 <= int(counted.get("/products").headers["X-SQL-Queries"]) <= 20
