"""Migrations build the whole schema from an empty database, and agree with the models."""
import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade

from marketplace import create_app
from marketplace.extensions import db
from tests.support import BASE_CONFIG, postgres_config, private_postgres_schema, require_postgres


def pending_differences(app):
    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True, "render_as_batch": True})
        return compare_metadata(context, db.metadata)


def upgrade_and_compare(config):
    app = create_app({**BASE_CONFIG, **config})
    with app.app_context():
        upgrade()
        tables = set(sa.inspect(db.engine).get_table_names())
        assert {"organisation", "user_account", "auth_session", "api_token", "invitation"} <= tables
        assert pending_differences(app) == []
        downgrade(revision="base")
        assert set(sa.inspect(db.engine).get_table_names()) <= {"alembic_version"}
        db.engine.dispose()


def test_sqlite_upgrades_from_empty_to_head_with_no_pending_changes(tmp_path):
    upgrade_and_compare({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'empty.sqlite3'}"})


@pytest.mark.postgres
def test_postgresql_upgrades_from_empty_to_head_with_no_pending_changes():
    require_postgres()
    with private_postgres_schema("migrate") as schema:
        upgrade_and_compare(postgres_config(schema))
