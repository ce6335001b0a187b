"""Catalogue rules, tested through the services (no HTTP): wholesale terms, tier maths, publication,
OCOP certificates (verification, revocation, expiry) and that one cooperative cannot touch another's
products."""
from datetime import date, timedelta

import pytest
from freezegun import freeze_time

from marketplace.catalog import queries, services
from marketplace.catalog.models import CatalogEvent, CertificateStatus, OcopCertificate, Product, ProductStatus
from marketplace.catalog.services import CertificateDetails, ProductDetails
from marketplace.errors import Conflict, Forbidden, NotFound, ValidationFailed
from marketplace.extensions import db
from tests import factories


def details(**overrides):
    values = {
        "name": "Na dai Chi Lăng", "description": "Na dai chín cây, hái sáng.", "category": "fresh_produce",
        "unit": "kg", "province_code": 20, "commune_code": 6463, "base_price_vnd": 60000,
        "min_order_qty": 100, "order_increment": 10, "capacity_qty": 20000, "capacity_period": "season",
        "harvest_months": [7, 8, 9], "lead_time_days": 3, "certifications": ["vietgap"],
        "tiers": [(500, 55000), (2000, 50000)],
    }
    values.update(overrides)
    return ProductDetails.from_mapping(values)


def fields_of(error):
    return set(error.value.errors)


# ---------------------------------------------------------------- tier maths

@pytest.fixture
def tiered(app, cooperative_owner):
    return services.create_product(cooperative_owner, details())


@pytest.mark.parametrize("quantity, unit_price", [
    (100, 60000), (499, 60000), (500, 55000), (1999, 55000), (2000, 50000), (10**6, 50000),
])
def test_the_unit_price_is_the_last_tier_reached(tiered, quantity, unit_price):
    assert tiered.unit_price_for(quantity) == unit_price
    assert tiered.line_total_for(quantity) == unit_price * quantity


def test_price_from_is_the_cheapest_tier(tiered, cooperative_owner):
    assert tiered.lowest_price_vnd == 50000
    untiered = services.create_product(cooperative_owner, details(name="Hồi khô", tiers=[]))
    assert untiered.lowest_price_vnd == 60000


@pytest.mark.parametrize("quantity, ok", [(90, False), (100, True), (105, False), (110, True)])
def test_quantities_respect_the_minimum_and_the_increment(tiered, quantity, ok):
    assert (tiered.quantity_problem(quantity) is None) is ok


@pytest.mark.parametrize("tiers", [
    [(100, 55000)],  # at the minimum order: the base price would never apply
    [(500, 60000)],  # not cheaper than the base price
    [(500, 55000), (1000, 56000)],  # dearer than the tier before
    [(500, 55000), (500, 54000)],  # same threshold twice
    [(500, 0)],
    [(-5, 50000)],
    [("nhiều", 50000)],
    [(i * 1000, 59000 - i) for i in range(1, 12)],  # more than 10 tiers
])
def test_inconsistent_tiers_are_refused(app, cooperative_owner, tiers):
    with pytest.raises(ValidationFailed) as error:
        services.create_product(cooperative_owner, details(tiers=tiers))
    assert fields_of(error) == {"tiers"}
    assert db.session.scalar(db.select(db.func.count(Product.id))) == 0


def test_tiers_are_stored_in_quantity_order_and_replaced_on_update(tiered, cooperative_owner):
    services.update_product(cooperative_owner, tiered.id, details(tiers=[(3000, 40000), (1000, 52000)]))
    assert [(t.min_qty, t.unit_price_vnd) for t in tiered.tiers] == [(1000, 52000), (3000, 40000)]


# ---------------------------------------------------------------- validation

@pytest.mark.parametrize("overrides, field", [
    ({"name": "  "}, "name"),
    ({"name": "x" * 161}, "name"),
    ({"category": "weapons"}, "category"),
    ({"unit": "gallon"}, "unit"),
    ({"base_price_vnd": 0}, "base_price_vnd"),
    ({"base_price_vnd": 12.5}, "base_price_vnd"),
    ({"base_price_vnd": 10**13}, "base_price_vnd"),
    ({"min_order_qty": 0}, "min_order_qty"),
    ({"min_order_qty": 105}, "order_increment"),  # not a multiple of the increment (10)
    ({"province_code": 999}, "province_code"),
    ({"commune_code": 3595}, "commune_code"),  # a commune of Lai Châu, not Lạng Sơn
    ({"harvest_months": [0, 13]}, "harvest_months"),
    ({"certifications": ["made-up"]}, "certifications"),
    ({"capacity_period": None}, "capacity_period"),
    ({"lead_time_days": -1}, "lead_time_days"),
])
def test_bad_product_input_names_the_field(app, cooperative_owner, overrides, field):
    with pytest.raises(ValidationFailed) as error:
        services.create_product(cooperative_owner, details(**overrides))
    assert field in fields_of(error)


def test_extra_fields_cannot_set_status_or_owner(app, cooperative_owner):
    other = factories.organisation("cooperative")
    data = {**vars(details()), "status": "published", "cooperative_id": other.id}
    product = services.create_product(cooperative_owner, ProductDetails.from_mapping(data))
    assert product.status == ProductStatus.DRAFT
    assert product.cooperative_id == cooperative_owner.organisation_id


def test_slugs_are_ascii_and_unique_within_a_cooperative(app, cooperative_owner):
    first = services.create_product(cooperative_owner, details(name="Thạch đen Tràng Định"))
    second = services.create_product(cooperative_owner, details(name="Thạch đen Tràng Định"))
    assert first.slug == "thach-den-trang-dinh"
    assert second.slug == "thach-den-trang-dinh-2"


# ---------------------------------------------------------------- publication and tenancy

def test_a_verified_cooperative_publishes_and_hides(tiered, cooperative_owner):
    services.publish_product(cooperative_owner, tiered.id)
    assert tiered.status == ProductStatus.PUBLISHED and tiered.published_at is not None
    assert queries.public_product(tiered.id) is tiered
    services.hide_product(cooperative_owner, tiered.id)
    with pytest.raises(NotFound):
        queries.public_product(tiered.id)
    kinds = [e.kind.value for e in db.session.scalars(db.select(CatalogEvent).order_by(CatalogEvent.id))]
    assert kinds == ["created", "published", "hidden"]


def test_a_pending_cooperative_prepares_drafts_but_cannot_publish(app, pending_cooperative_owner):
    draft = services.create_product(pending_cooperative_owner, details())
    with pytest.raises(Forbidden) as error:
        services.publish_product(pending_cooperative_owner, draft.id)
    assert error.value.code == "organisation_not_verified"
    assert draft.status == ProductStatus.DRAFT


def test_a_suspended_cooperatives_products_leave_the_catalogue(tiered, cooperative_owner):
    services.publish_product(cooperative_owner, tiered.id)
    cooperative_owner.organisation.status = "suspended"
    db.session.commit()
    with pytest.raises(NotFound):
        queries.public_product(tiered.id)


def test_enterprises_do_not_list_products(app, enterprise_owner):
    with pytest.raises(Forbidden):
        services.create_product(enterprise_owner, details())


def test_one_cooperative_cannot_touch_anothers_product(tiered, cooperative_owner):
    intruder = factories.user(factories.organisation("cooperative"), email="x@htx.example")
    before = ProductDetails.of(tiered)
    for attempt in (
        lambda: services.update_product(intruder, tiered.id, details(base_price_vnd=1)),
        lambda: services.publish_product(intruder, tiered.id),
        lambda: services.hide_product(intruder, tiered.id),
        lambda: services.delete_product(intruder, tiered.id),
        lambda: services.add_certificate(intruder, tiered.id, CertificateDetails(stars=4, certificate_no="X",
                                                                               decision_date=date.today())),
        lambda: services.get_own_product(intruder, tiered.id),
    ):
        with pytest.raises(NotFound):
            attempt()
    db.session.expire_all()
    assert ProductDetails.of(db.session.get(Product, tiered.id)) == before


def test_deleting_a_product_keeps_its_history(tiered, cooperative_owner):
    name = tiered.name
    services.delete_product(cooperative_owner, tiered.id)
    assert db.session.get(Product, tiered.id) is None
    history = db.session.scalars(db.select(CatalogEvent).order_by(CatalogEvent.id)).all()
    assert [(e.kind.value, e.product_id, e.cooperative_id) for e in history] == [
        ("created", None, cooperative_owner.organisation_id), ("deleted", None, cooperative_owner.organisation_id)]
    assert history[-1].note == name and history[-1].actor == cooperative_owner


# ---------------------------------------------------------------- OCOP certificates

def certificate(**overrides):
    values = {"stars": 4, "certificate_no": "Demo-OCOP-01", "issuing_level": "province",
              "decision_date": date.today() - timedelta(days=10)}
    values.update(overrides)
    return CertificateDetails.from_mapping(values)


def test_expiry_defaults_to_36_months_after_the_decision(tiered, cooperative_owner):
    added = services.add_certificate(cooperative_owner, tiered.id, certificate(decision_date=date(2025, 8, 31)))
    assert added.expires_on == date(2028, 8, 31)
    leap = services.clean_certificate(certificate(decision_date=date(2024, 2, 29)))
    assert leap["expires_on"] == date(2027, 2, 28)


@pytest.mark.parametrize("overrides, field", [
    ({"stars": 2}, "stars"),
    ({"stars": 6}, "stars"),
    ({"certificate_no": ""}, "certificate_no"),
    ({"decision_date": None}, "decision_date"),
    ({"stars": 5, "issuing_level": "province"}, "issuing_level"),
    ({"stars": 4, "issuing_level": "central"}, "issuing_level"),  # issue 13: 3-4 stars are provincial
    ({"stars": 3, "issuing_level": "central"}, "issuing_level"),
    ({"expires_on": date.today() - timedelta(days=20)}, "expires_on"),
])
def test_bad_certificates_are_refused(tiered, cooperative_owner, overrides, field):
    with pytest.raises(ValidationFailed) as error:
        services.add_certificate(cooperative_owner, tiered.id, certificate(**overrides))
    assert field in fields_of(error)


@pytest.mark.parametrize("stars, level", [(3, "province"), (4, "province"), (5, "central")])
def test_stars_and_issuing_level_agree(tiered, cooperative_owner, stars, level):
    assert services.issuing_level_for(stars).value == level
    added = services.add_certificate(cooperative_owner, tiered.id, certificate(stars=stars, issuing_level=level))
    assert added.issuing_level.value == level


def test_the_badge_shows_only_once_the_alliance_verifies(tiered, cooperative_owner, alliance_user, outbox):
    added = services.add_certificate(cooperative_owner, tiered.id, certificate())
    assert tiered.ocop_stars(date.today()) is None
    assert added in services.certificates_to_review(alliance_user).items
    services.verify_certificate(alliance_user, added.id, "Đối chiếu quyết định.")
    assert tiered.ocop_stars(date.today()) == 4
    assert [m.to for m in outbox] == [[cooperative_owner.email]]


def test_revocation_needs_a_reason_removes_the_badge_and_tells_the_cooperative(tiered, cooperative_owner,
                                                                             alliance_user, outbox):
    added = services.add_certificate(cooperative_owner, tiered.id, certificate())
    services.verify_certificate(alliance_user, added.id, "Đối chiếu quyết định.")
    with pytest.raises(ValidationFailed):
        services.revoke_certificate(alliance_user, added.id, "  ")
    services.revoke_certificate(alliance_user, added.id, "Số giấy chứng nhận không khớp quyết định.")
    assert added.status == CertificateStatus.REVOKED
    assert tiered.ocop_stars(date.today()) is None
    assert len(outbox) == 2 and "không khớp" in outbox[-1].body
    with pytest.raises(Conflict):
        services.verify_certificate(alliance_user, added.id, "Đối chiếu quyết định.")


def test_verifying_a_certificate_without_a_scan_needs_a_note_saying_what_was_checked(tiered, cooperative_owner,
                                                                                     alliance_user):
    added = services.add_certificate(cooperative_owner, tiered.id, certificate())
    assert added.scan_name is None
    for note in ("", "   ", "\u200b"):
        with pytest.raises(ValidationFailed) as error:
            services.verify_certificate(alliance_user, added.id, note)
        assert fields_of(error) == {"note"}
    assert added.status == CertificateStatus.PENDING
    with pytest.raises(ValidationFailed):
        services.verify_certificate(alliance_user, added.id, "x" * 2001)
    services.verify_certificate(alliance_user, added.id, " Đối chiếu quyết định 185/QĐ-UBND. ")
    assert added.status == CertificateStatus.VERIFIED
    assert added.status_reason == "Đối chiếu quyết định 185/QĐ-UBND."


def test_only_the_alliance_reviews_certificates(tiered, cooperative_owner):
    added = services.add_certificate(cooperative_owner, tiered.id, certificate())
    with pytest.raises(Forbidden):
        services.verify_certificate(cooperative_owner, added.id, "Đối chiếu quyết định.")


def test_expiry_removes_the_badge_on_the_day_after_and_tells_the_cooperative(tiered, cooperative_owner,
                                                                           alliance_user, outbox):
    added = services.add_certificate(cooperative_owner, tiered.id, certificate())
    services.verify_certificate(alliance_user, added.id, "Đối chiếu quyết định.")
    outbox.clear()
    last_day = added.expires_on
    assert tiered.ocop_stars(last_day) == 4
    # Pages never show an expired badge, even before the daily command runs.
    assert tiered.ocop_stars(last_day + timedelta(days=1)) is None
    assert services.expire_certificates(on=last_day) == []
    expired = services.expire_certificates(on=last_day + timedelta(days=1))
    assert expired == [added] and added.status == CertificateStatus.EXPIRED
    assert len(outbox) == 1 and outbox[0].to == [cooperative_owner.email]
    assert services.expire_certificates(on=last_day + timedelta(days=2)) == []  # idempotent


def test_the_public_filter_by_stars_ignores_expired_badges(app, cooperative_owner):
    cooperative = cooperative_owner.organisation
    fresh = factories.product(cooperative, stars=4)
    stale = factories.product(cooperative, stars=4, expires_on=date.today() + timedelta(days=5))
    factories.product(cooperative, stars=4, certificate_status="pending")
    with freeze_time(date.today() + timedelta(days=10)):
        found = queries.public_products(queries.CatalogQuery(stars=4)).items
    assert found == [fresh]
    assert stale.ocop_stars(date.today()) == 4


def test_public_list_sorts_by_price_from(app, cooperative_owner):
    cooperative = cooperative_owner.organisation
    cheap_tier = factories.product(cooperative, base_price_vnd=90000, tiers=[(100, 30000)])
    plain = factories.product(cooperative, base_price_vnd=50000)
    factories.product(cooperative, status="draft", base_price_vnd=1)
    found = queries.public_products(queries.CatalogQuery(sort="price_asc")).items
    assert found == [cheap_tier, plain]


# ---------------------------------------------------------------- questions the pages ask a certificate

def test_overdue_certificates_are_the_ones_the_daily_command_expires(app, cooperative_owner):
    """OcopCertificate.is_overdue (the alliance's "Expired" flag) agrees with services.expire_certificates."""
    today = date.today()
    for status in CertificateStatus:
        for days in (-1, 0, 1):
            factories.product(cooperative_owner.organisation, stars=4, certificate_status=status.value,
                              expires_on=today + timedelta(days=days))
    certificates = db.session.scalars(db.select(OcopCertificate)).all()
    overdue = {c.id for c in certificates if c.is_overdue(today)}
    assert len(overdue) == 2  # pending and verified, expired yesterday
    assert not any(c.is_valid_on(today) or c.can_be_verified(today) for c in certificates if c.id in overdue)
    assert {c.id for c in services.expire_certificates(on=today)} == overdue


@pytest.mark.parametrize("status", list(CertificateStatus))
def test_a_certificate_can_be_withdrawn_exactly_when_the_service_allows_it(tiered, cooperative_owner, status):
    added = services.add_certificate(cooperative_owner, tiered.id, certificate())
    added.status = status
    db.session.commit()
    if added.can_be_withdrawn():
        services.withdraw_certificate(cooperative_owner, added.id)
        assert db.session.get(OcopCertificate, added.id) is None
    else:
        with pytest.raises(Conflict):
            services.withdraw_certificate(cooperative_owner, added.id)
