"""Production refuses to start with settings that would make it unsafe."""
from pathlib import Path
from types import SimpleNamespace

import pytest

from marketplace import config, create_app


def test_production_needs_a_strong_secret_key(monkeypatch, tmp_path):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.setenv("MARKETPLACE_ENV", "production")
    monkeypatch.setenv("PUBLIC_BASE_URL", "https://chohtx.example")
    with pytest.raises(RuntimeError, match="SECRET_KEY is not set"):
        create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/x.sqlite3"})
    with pytest.raises(RuntimeError, match="at least 32 bytes"):
        create_app({"SECRET_KEY": "short", "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/x.sqlite3"})


def test_production_needs_the_public_base_url_for_mail_links(monkeypatch, tmp_path):
    monkeypatch.setenv("MARKETPLACE_ENV", "production")
    monkeypatch.delenv("PUBLIC_BASE_URL", raising=False)
    settings = {"SECRET_KEY": "x" * 40, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/x.sqlite3"}
    with pytest.raises(RuntimeError, match="PUBLIC_BASE_URL"):
        create_app(settings)
    monkeypatch.setenv("PUBLIC_BASE_URL", "https://chohtx.example")
    assert create_app(settings).config["PUBLIC_BASE_URL"] == "https://chohtx.example"


def test_development_links_follow_the_served_host_and_port(monkeypatch, tmp_path):
    """`PORT=5101 make run`: emails, QR codes and labels link to the site that runs, not to port 5000."""
    from marketplace.notifications import link

    monkeypatch.setenv("MARKETPLACE_ENV", "development")
    monkeypatch.delenv("PUBLIC_BASE_URL", raising=False)
    monkeypatch.setenv("HOST", "127.0.0.1")
    monkeypatch.setenv("PORT", "5101")
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/x.sqlite3"})
    assert app.config["PUBLIC_BASE_URL"] == "http://127.0.0.1:5101"
    # Still never the request's Host header (reset-link poisoning).
    with app.test_request_context("/", base_url="http://evil.example:80"):
        assert link("main.home") == "http://127.0.0.1:5101/"
    for host, expected in (("localhost", "http://localhost:5101"), ("0.0.0.0", "http://127.0.0.1:5101"),
                           ("::1", "http://[::1]:5101")):
        monkeypatch.setenv("HOST", host)
        assert config.defaults(tmp_path)["PUBLIC_BASE_URL"] == expected
    monkeypatch.delenv("HOST")
    monkeypatch.delenv("PORT")
    assert config.defaults(tmp_path)["PUBLIC_BASE_URL"] == "http://127.0.0.1:5000"
    monkeypatch.setenv("PUBLIC_BASE_URL", "http://192.168.1.20:5101")  # an explicit address still wins
    assert create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/x.sqlite3"}).config[
        "PUBLIC_BASE_URL"] == "http://192.168.1.20:5101"


def test_production_never_derives_the_public_base_url_from_host_and_port(monkeypatch, tmp_path):
    monkeypatch.setenv("MARKETPLACE_ENV", "production")
    monkeypatch.delenv("PUBLIC_BASE_URL", raising=False)
    monkeypatch.setenv("HOST", "127.0.0.1")
    monkeypatch.setenv("PORT", "8000")
    with pytest.raises(RuntimeError, match="PUBLIC_BASE_URL"):
        create_app({"SECRET_KEY": "x" * 40, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/x.sqlite3"})


def test_development_generates_and_keeps_a_secret_key(monkeypatch, tmp_path):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.setenv("MARKETPLACE_ENV", "development")
    settings = {"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/x.sqlite3"}
    first = create_app(settings)
    second = create_app(settings)
    assert len(first.config["SECRET_KEY"]) >= 32
    assert first.config["SECRET_KEY"] == second.config["SECRET_KEY"]


def test_hosting_panel_postgres_urls_use_psycopg3(monkeypatch, tmp_path):
    monkeypatch.setenv("MARKETPLACE_ENV", "development")
    monkeypatch.setenv("DATABASE_URL", "postgres://u:p@db.example:5432/cho")
    app = create_app({"SECRET_KEY": "x" * 40})
    assert app.config["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://u:p@db.example:5432/cho"


def signing_app(tmp_path, environment, passphrase=None, testing=False):
    """Just what config.signing_passphrase reads of an app."""
    return SimpleNamespace(config={"MARKETPLACE_ENV": environment, "SIGNING_KEY_PASSPHRASE": passphrase},
                           testing=testing, instance_path=str(tmp_path / "instance"))


def test_production_refuses_to_sign_without_a_strong_signing_passphrase(tmp_path):
    with pytest.raises(RuntimeError, match="SIGNING_KEY_PASSPHRASE is not set"):
        config.signing_passphrase(signing_app(tmp_path, "production"))
    with pytest.raises(RuntimeError, match="at least 32 bytes"):
        config.signing_passphrase(signing_app(tmp_path, "production", "short"))
    assert config.signing_passphrase(signing_app(tmp_path, "production", "p" * 40)) == "p" * 40
    assert not (tmp_path / "instance").exists()  # nothing generated in production


def test_local_runs_generate_one_signing_passphrase_and_keep_it(tmp_path):
    app = signing_app(tmp_path, "development")
    first = config.signing_passphrase(app)
    assert len(first) >= 32
    assert config.signing_passphrase(app) == first
    assert config.signing_passphrase(signing_app(tmp_path, "production", testing=True)) == first
    path = tmp_path / "instance" / "signing_passphrase"
    assert path.stat().st_mode & 0o777 == 0o600
    assert [p.name for p in path.parent.iterdir()] == ["signing_passphrase"]  # no temporary file left


def test_signing_settings_come_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("MARKETPLACE_ENV", "development")
    monkeypatch.setenv("SIGNING_DIR", str(tmp_path / "keys"))
    monkeypatch.setenv("SIGNING_KEY_PASSPHRASE", "q" * 40)
    monkeypatch.setenv("VERIFY_MAX_BYTES", "1000")
    app = create_app({"SECRET_KEY": "x" * 40, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/x.sqlite3"})
    assert (app.config["SIGNING_DIR"], app.config["SIGNING_KEY_PASSPHRASE"], app.config["VERIFY_MAX_BYTES"]) == (
        str(tmp_path / "keys"), "q" * 40, 1000)
    monkeypatch.delenv("SIGNING_DIR")
    default = create_app({"SECRET_KEY": "x" * 40, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/x.sqlite3"})
    assert default.config["SIGNING_DIR"] == str(Path(default.instance_path) / "signing")
