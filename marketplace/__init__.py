"""Chợ HTX: B2B marketplace for Vietnamese cooperatives' OCOP products."""
from pathlib import Path

from flask import Flask

from marketplace import config as settings

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def create_app(config=None):
    """Build the application. `config` (a mapping) overrides defaults and environment; tests use it."""
    app = Flask(
        __name__,
        template_folder=str(PROJECT_ROOT / "templates"),
        static_folder=str(PROJECT_ROOT / "static"),
        instance_relative_config=True,
    )
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    app.config.from_mapping(settings.defaults(app.instance_path))
    app.config.from_mapping(settings.from_environment())
    if config:
        app.config.from_mapping(config)
    settings.ensure_secret_key(app)
    settings.ensure_public_base_url(app)

    from marketplace.web import init_web

    init_web(app)
    return app
