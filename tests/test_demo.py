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


def test_the_2024_conference_has_six_demo_mous_in_different_states(seeded):
    from collections import Counter

    from marketplace import demo_agreements
    from marketplace.agreements import services as agreements
    from marketplace.agreements import signing
    from marketplace.agreements.models import AgreementState, ConferenceEvent

    [event] = db.session.scalars(db.select(ConferenceEvent)).all()
    assert event.is_demo and event.name == "Hội nghị gặp mặt, kết nối tiêu thụ sản phẩm HTX 2024"
    mous = demo_agreements.demo_agreements()
    assert len(mous) == 6 and {a.event_id for a in mous} == {event.id}
    states = Counter(a.state for a in mous)
    assert states[AgreementState.SIGNED] >= 2
    assert states[AgreementState.AWAITING_SIGNATURES] == 1 and states[AgreementState.DECLINED] == 1
    negotiating = [a for a in mous if a.state == AgreementState.NEGOTIATING]
    assert len(negotiating) == 1 and len(negotiating[0].revisions) == 2
    witnessed = [a for a in mous if a.state == AgreementState.SIGNED and a.witness_id]
    assert witnessed and len(witnessed[0].signatures) == 3
    for agreement in mous:
        if agreement.state == AgreementState.SIGNED:
            assert signing.verify(agreements.document_path(agreement).read_bytes()).ok
    assert len(demo_agreements.demo_inquiries()) == 1


def test_seeding_again_adds_no_mou(seeded):
    from marketplace import demo_agreements
    from marketplace.agreements.models import AgreementEvent

    events = count(AgreementEvent)
    demo.seed()
    assert len(demo_agreements.demo_agreements()) == 6 and count(AgreementEvent) == events


def test_the_demo_mous_show_several_tracking_states_with_the_figures_of_their_orders(seeded):
    from marketplace import demo_agreements, demo_orders
    from marketplace.agreements.models import AgreementState
    from marketplace.alliance import tracking
    from marketplace.orders.models import OrderStatus

    signed = [a for a in demo_agreements.demo_agreements() if a.state == AgreementState.SIGNED]
    progress = tracking.progress_map([a.id for a in signed])
    assert sorted(p.status.value for p in progress.values()) == ["behind", "on_track", "stalled"]
    for agreement in signed:
        counted = [o for o in demo_orders.demo_orders() if o.agreement_id == agreement.id
                   and o.status not in (OrderStatus.CANCELLED, OrderStatus.REJECTED)]
        for line in progress[agreement.id].lines:
            mine = [(o, ol) for o in counted for ol in o.lines if ol.product_id == line.product_id]
            assert line.ordered_qty == sum(ol.quantity for _o, ol in mine)
            assert line.delivered_qty == sum(ol.quantity_received or 0 for o, ol in mine
                                             if o.status in (OrderStatus.DELIVERED, OrderStatus.COMPLETED))
            assert line.paid_vnd == sum(ol.line_total_vnd * o.paid_vnd // o.total_vnd for o, ol in mine)


def test_demo_orders_cover_the_stages_and_both_ways_of_paying(seeded):
    from marketplace import demo_orders
    from marketplace.orders.models import OrderStatus
    from marketplace.payments.models import PaymentMethod, PaymentStatus

    found = demo_orders.demo_orders()
    assert {o.status for o in found} == {OrderStatus.COMPLETED, OrderStatus.SHIPPED, OrderStatus.PLACED,
                                         OrderStatus.AWAITING_PAYMENT, OrderStatus.CANCELLED, OrderStatus.REJECTED}
    assert sum(1 for o in found if o.agreement_id) == 3
    received = {p.method for o in found for p in o.payments if p.status == PaymentStatus.SUCCEEDED}
    assert received == {PaymentMethod.CARD, PaymentMethod.BANK_TRANSFER}
    shipped = next(o for o in found if o.status == OrderStatus.SHIPPED)
    assert 0 < shipped.paid_vnd < shipped.total_vnd  # the deposit, the balance due on delivery
    demo.seed()
    assert len(demo_orders.demo_orders()) == len(found)
