"""`flask catalog import FILE [--publish] [--as EMAIL] [--skip-invalid]` and `flask catalog expire-certificates`."""
from datetime import date, timedelta

import pytest

from marketplace.accounts.models import Organisation
from marketplace.catalog import importing, services
from marketplace.catalog.models import CertificateStatus, OcopCertificate, Product, ProductStatus
from marketplace.extensions import db
from tests import factories
from tests.factories import REGISTRY_TAX_CODE, csv_bytes, registry_row, xlsx_bytes


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def registry(tmp_path):
    def write(rows, name="registry.csv", maker=csv_bytes):
        path = tmp_path / name
        path.write_bytes(maker(rows))
        return str(path)
    return write


def products():
    db.session.expire_all()
    return db.session.scalars(db.select(Product).order_by(Product.id)).all()


def test_import_with_publish_prints_a_summary(runner, alliance_user, registry):
    path = registry([registry_row(), registry_row(name="Chè đen")])
    result = runner.invoke(args=["catalog", "import", path, "--publish"])
    assert result.exit_code == 0, result.output
    assert "2 created, 0 updated, 2 published, 1 new cooperatives" in result.output
    assert alliance_user.email in result.output
    assert [p.status for p in products()] == [ProductStatus.PUBLISHED] * 2

    again = runner.invoke(args=["catalog", "import", path])
    assert again.exit_code == 0
    assert "0 created, 2 updated, 0 published, 0 new cooperatives" in again.output
    assert len(products()) == 2


def test_import_of_an_xlsx_registry(runner, alliance_user, registry):
    result = runner.invoke(args=["catalog", "import", registry([registry_row()], "registry.xlsx", xlsx_bytes)])
    assert result.exit_code == 0, result.output
    assert products()[0].cooperative.tax_code == REGISTRY_TAX_CODE


def test_errors_name_line_and_column_and_nothing_is_written(runner, alliance_user, registry):
    path = registry([registry_row(), registry_row(name="Quế", unit="bao"), registry_row(name="Hồi", price_vnd="-1")])
    result = runner.invoke(args=["catalog", "import", path, "--publish"])
    assert result.exit_code != 0
    assert "line 3, unit: " in result.output
    assert "line 4, price_vnd: " in result.output
    assert "2 of 3 rows have errors; nothing was imported." in result.output
    assert products() == []
    assert db.session.scalar(db.select(Organisation).filter_by(tax_code=REGISTRY_TAX_CODE)) is None


def test_skip_invalid_imports_the_valid_rows(runner, alliance_user, registry):
    path = registry([registry_row(), registry_row(name="Quế", unit="bao")])
    result = runner.invoke(args=["catalog", "import", path, "--skip-invalid"])
    assert result.exit_code == 0, result.output
    assert "line 3, unit: " in result.output
    assert "Skipped 1 rows with errors." in result.output
    assert [p.name for p in products()] == ["Chè xanh Mẫu Sơn"]


def test_an_unreadable_file_is_refused(runner, alliance_user, tmp_path):
    path = tmp_path / "bad.csv"
    path.write_bytes(b"name,category,unit,price_vnd,colour\r\nA,other,kg,1,red\r\n")
    result = runner.invoke(args=["catalog", "import", str(path)])
    assert result.exit_code != 0
    assert "colour" in result.output and result.output.startswith("Error: ")
    assert runner.invoke(args=["catalog", "import", str(tmp_path / "missing.csv")]).exit_code != 0
    path.write_bytes(b"x" * (importing.MAX_FILE_BYTES + 1))
    result = runner.invoke(args=["catalog", "import", str(path)])
    assert result.exit_code != 0 and "5 MB" in result.output


def test_acting_as_a_chosen_alliance_user(runner, alliance_user, registry):
    colleague = factories.user(alliance_user.organisation, email="colleague@lienminh.example")
    path = registry([registry_row(ocop_stars="4", ocop_certificate_no="DEMO-9",
                                  ocop_expiry=(date.today() + timedelta(days=300)).isoformat())])
    result = runner.invoke(args=["catalog", "import", path, "--as", "Colleague@lienminh.example"])
    assert result.exit_code == 0, result.output
    assert products()[0].certificates[0].reviewed_by.email == colleague.email


def test_only_alliance_staff_may_import(runner, cooperative_owner, registry):
    path = registry([registry_row()])
    result = runner.invoke(args=["catalog", "import", path])
    assert result.exit_code != 0 and "create-alliance-user" in result.output
    result = runner.invoke(args=["catalog", "import", path, "--as", cooperative_owner.email])
    assert result.exit_code != 0 and "not an active alliance staff account" in result.output
    assert products() == []


def test_expire_certificates_reports_what_expired_and_is_idempotent(runner, cooperative_owner, alliance_user,
                                                                   outbox):
    product = factories.product(cooperative_owner.organisation, name="Na dai Chi Lăng", slug="na-dai-chi-lang",
                                stars=4, expires_on=services.today() - timedelta(days=1))
    factories.product(cooperative_owner.organisation, stars=3, expires_on=services.today() + timedelta(days=1))
    db.session.commit()
    result = runner.invoke(args=["catalog", "expire-certificates"])
    assert result.exit_code == 0, result.output
    assert "1 certificates expired." in result.output
    assert "Na dai Chi Lăng" in result.output and cooperative_owner.organisation.legal_name in result.output
    statuses = sorted(c.status for c in db.session.scalars(db.select(OcopCertificate)))
    assert statuses == [CertificateStatus.EXPIRED, CertificateStatus.VERIFIED]
    assert len(outbox) == 1 and outbox[0].to == [cooperative_owner.email]
    assert product.ocop_stars(services.today()) is None

    again = runner.invoke(args=["catalog", "expire-certificates"])
    assert again.exit_code == 0 and "0 certificates expired." in again.output
    assert len(outbox) == 1
