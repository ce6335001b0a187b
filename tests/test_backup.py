"""bin/backup-restore-check (issue 8): backs up a small database made by the fixtures, its uploads and
its keys, restores them into an empty PostgreSQL database and folder, and finds them identical; its
comparison names what differs. Needs PostgreSQL and its client tools (conftest: fails in CI, skips
elsewhere when the server is missing)."""
import importlib.machinery
import importlib.util
import shutil
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from marketplace import create_app
from marketplace.extensions import db
from tests import factories
from tests.support import BASE_CONFIG, IN_CI, POSTGRES_URL, postgres_config, private_postgres_schema, require_postgres

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "bin" / "backup-restore-check"


def load_script():
    loader = importlib.machinery.SourceFileLoader("backup_restore_check", str(SCRIPT))
    module = importlib.util.module_from_spec(importlib.util.spec_from_loader(loader.name, loader))
    loader.exec_module(module)
    return module


def require_client_tools():
    missing = [tool for tool in ("pg_dump", "pg_restore", "createdb", "dropdb") if shutil.which(tool) is None]
    if missing:
        message = f"PostgreSQL client tools missing: {missing} (apt-get install postgresql-client)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture
def small_site(tmp_path):
    """A private schema with organisations, users, products (tiers, certificate), uploads and a key file."""
    require_postgres()
    require_client_tools()
    with private_postgres_schema("backup") as schema:
        app = create_app({**BASE_CONFIG, **postgres_config(schema), "UPLOAD_DIR": str(tmp_path / "uploads"),
                          "SEARCH_INDEX_DIR": str(tmp_path / "index")})
        with app.app_context():
            db.create_all()
            owner = factories.user(factories.organisation("cooperative"), email="owner@htx.example")
            factories.user(factories.organisation("enterprise"), email="buyer@dn.example")
            for n in range(3):
                factories.product(owner.organisation, name=f"Mật ong rừng {n}", tiers=[(100, 90000), (500, 85000)],
                                  stars=4, expires_on=date.today() + timedelta(days=300))
            db.session.remove()
            db.engine.dispose()
        uploads = tmp_path / "uploads"
        (uploads / "products").mkdir(parents=True)
        (uploads / "products" / "0123456789abcdef0123456789abcdef.webp").write_bytes(b"RIFF\x00WEBP" + bytes(range(256)))
        (uploads / "certificates").mkdir()
        (uploads / "certificates" / "scan.pdf").write_bytes(b"%PDF-1.7 giay chung nhan OCOP")
        instance = tmp_path / "instance"
        instance.mkdir()
        (instance / "secret_key").write_text("not-a-real-key-but-a-key-file")
        yield {"schema": schema, "uploads": uploads, "instance": instance}


@pytest.mark.postgres
def test_a_backup_restores_into_an_empty_database_identical_table_by_table_and_file_by_file(small_site, tmp_path):
    keep = tmp_path / "backup"
    done = subprocess.run(
        [sys.executable, "-W", "error", str(SCRIPT), "--database-url", POSTGRES_URL, "--schema", small_site["schema"],
         "--files", str(small_site["uploads"]), "--files", str(small_site["instance"]), "--keep-dir", str(keep)],
        cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert out.strip().endswith("restore check: identical")
    schema = small_site["schema"]
    for table, rows in (("organisation", 2), ("user_account", 2), ("product", 3), ("price_tier", 6),
                        ("ocop_certificate", 3)):
        line = next(line for line in out.splitlines() if f" {schema}.{table} " in line)
        assert f" {rows} rows " in line and line.endswith(" ok")
    assert "2 files" in out and "1 files" in out
    assert (keep / "database.dump").stat().st_size > 0
    restored = keep / "restored"
    assert (next(restored.glob("*-uploads")) / "certificates" / "scan.pdf").read_bytes().startswith(b"%PDF")

    # The temporary database is gone.
    engine = sa.create_engine(POSTGRES_URL)
    with engine.connect() as connection:
        names = connection.execute(sa.text("SELECT datname FROM pg_database WHERE datname LIKE 'restore_check_%'"))
        assert [name for (name,) in names if name in out] == []
    engine.dispose()


def test_the_comparison_names_what_differs():
    script = load_script()
    before = {("table", "s.product"): (3, "abc"), ("table", "s.price_tier"): (6, "def"), ("index", "s.ix"): "CREATE"}
    after = {("table", "s.product"): (2, "abd"), ("table", "s.organisation"): (1, "x"), ("index", "s.ix"): "CREATE"}
    assert script.differences(before, after) == [
        "only after restore: table s.organisation",
        "missing after restore: table s.price_tier",
        "differs: table s.product: (3, 'abc') → (2, 'abd')",
    ]
    assert script.differences({"a.txt": "1"}, {"a.txt": "1"}) == []


def test_files_are_compared_by_content(tmp_path):
    script = load_script()
    (tmp_path / "one" / "sub").mkdir(parents=True)
    (tmp_path / "one" / "sub" / "photo.webp").write_bytes(b"photo")
    shutil.copytree(tmp_path / "one", tmp_path / "two")
    assert script.differences(script.digests(tmp_path / "one"), script.digests(tmp_path / "two")) == []
    (tmp_path / "two" / "sub" / "photo.webp").write_bytes(b"phot0")
    assert script.differences(script.digests(tmp_path / "one"), script.digests(tmp_path / "two"))[0].startswith(
        "differs: sub/photo.webp")


def test_urls_of_the_application_become_libpq_urls_for_another_database():
    script = load_script()
    assert script.libpq_url("postgresql+psycopg://u:p@h:5432/db?options=-csearch_path%3Dx") == \
        "postgresql://u:p@h:5432/db?options=-csearch_path%3Dx"
    assert script.with_database("postgresql://u:p@h:5432/db?options=-csearch_path%3Dx&sslmode=require", "other") == \
        "postgresql://u:p@h:5432/other?sslmode=require"
    with pytest.raises(script.CannotRun):
        script.libpq_url("sqlite:///instance/marketplace.sqlite3")
