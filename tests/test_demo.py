"""Demo products (`flask seed-demo`): realistic, valid, idempotent, and clearly demo data."""
from collections import Counter

import pytest
from PIL import Image

from marketplace import demo, demo_catalog
from marketplace.accounts.models import Organisation, OrganisationStatus
from marketplace.catalog import images, queries, services
from marketplace.catalog.models import (
    CertificateStatus,
    OcopCertificate,
    PriceTier,
    Product,
    ProductImage,
    ProductStatus,
)
from marketplace.extensions import db


def count(model):
    return db.session.scalar(db.select(db.func.count()).select_from(model))


@pytest.fixture
def seeded(app):
    demo.seed()
    return db.session.scalars(db.select(Product).order_by(Product.id)).all()


def test_seeding_twice_changes_nothing(seeded, app):
    tables = (Product, PriceTier, OcopCertificate, ProductImage)
    before = {model: count(model) for model in tables}
    files = sorted(p.name for p in images.photo_path("0" * 32).parent.iterdir())

    demo.seed()

    db.session.expire_all()
    assert {model: count(model) for model in tables} == before
    assert sorted(p.name for p in images.photo_path("0" * 32).parent.iterdir()) == files


def test_demo_catalogue_is_realistic(seeded):
    assert 25 <= len(seeded) <= 40
    assert {p.category for p in seeded} == set(services.Category)
    assert len({p.unit for p in seeded}) >= 6
    statuses = Counter(p.status for p in seeded)
    assert statuses[ProductStatus.PUBLISHED] > len(seeded) / 2
    assert statuses[ProductStatus.DRAFT] and statuses[ProductStatus.HIDDEN]
    assert sum(bool(p.name_en) for p in seeded) > len(seeded) / 2
    assert sum(bool(p.tiers) for p in seeded) > len(seeded) / 2
    assert any(p.harvest_months for p in seeded) and any(p.capacity_qty for p in seeded)
    assert any(p.certifications for p in seeded)


def test_every_product_keeps_the_wholesale_rules(seeded):
    for product in seeded:
        services.clean_product(services.ProductDetails.of(product))  # raises ValidationFailed if not


def test_published_products_are_public_with_a_photo_on_disk(seeded):
    published = [p for p in seeded if p.status == ProductStatus.PUBLISHED]
    for product in published:
        assert queries.public_product(product.id) is product
        assert product.cover is not None, product.name
        with Image.open(images.photo_path(product.cover.stored_name)) as photo:
            assert photo.format == "WEBP"
        assert images.photo_path(product.cover.stored_name, thumbnail=True).exists()
    listed = queries.public_products(queries.parse_catalog_args({"per_page": "100"}))
    assert listed.total == len(published)


def test_pending_cooperative_products_stay_drafts(seeded):
    pending = db.session.scalars(db.select(Organisation).where(
        Organisation.status == OrganisationStatus.PENDING, Organisation.kind == "cooperative")).all()
    assert pending
    products = [p for p in seeded if p.cooperative in pending]
    assert products and all(p.status == ProductStatus.DRAFT for p in products)


def test_certificates_cover_every_state_and_say_they_are_demo_data(seeded):
    certificates = [c for p in seeded for c in p.certificates]
    assert len(seeded) / 4 <= len(certificates) <= len(seeded) / 2
    assert all(c.certificate_no.startswith("DEMO-OCOP-") for c in certificates)
    statuses = Counter(c.status for c in certificates)
    assert statuses[CertificateStatus.PENDING] == 1
    assert statuses[CertificateStatus.EXPIRED] == 1
    assert statuses[CertificateStatus.REVOKED] == 1
    assert statuses[CertificateStatus.VERIFIED] == len(certificates) - 3
    today = services.today()
    for certificate in certificates:
        if certificate.status == CertificateStatus.VERIFIED:
            assert certificate.is_valid_on(today)
            assert certificate.reviewed_by.email == demo.ALLIANCE_EMAIL
        if certificate.status == CertificateStatus.EXPIRED:
            assert certificate.expires_on < today
    assert {c.stars for c in certificates} == {3, 4, 5}
    assert sum(c.stars == 5 for c in certificates) == 1
    assert len([p for p in seeded if p.ocop_stars(today)]) == statuses[CertificateStatus.VERIFIED]


def test_demo_photos_are_light_jpegs():
    from io import BytesIO

    for variant, category in enumerate(demo_catalog.PALETTES):
        with Image.open(BytesIO(demo_catalog.demo_photo(category, variant))) as photo:
            assert photo.format == "JPEG" and photo.size == demo_catalog.PHOTO_SIZE
            mean = sum(photo.convert("L").resize((16, 12)).tobytes()) / (16 * 12)
            assert mean > 150, "demo photos should be light"
