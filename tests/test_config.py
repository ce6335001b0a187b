"""Production refuses to start with settings that would make it unsafe."""
import pytest

from marketplace import create_app


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
