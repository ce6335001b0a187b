"""Memoranda of understanding as use cases (marketplace/agreements/services.py), without HTTP: drafting,
negotiating in immutable revisions, whose turn it is, every allowed and forbidden transition, the
evidence log, and who may see what (a third party gets NotFound)."""
from datetime import date, timedelta

import pytest

from marketplace.agreements import services, terms
from marketplace.agreements.models import AgreementEvent, AgreementEventKind, AgreementState, PartyRole
from marketplace.errors import Forbidden, NotFound, ValidationFailed
from marketplace.extensions import db
from tests import factories

START = date.today() + timedelta(days=7)


@pytest.fixture
def seller(app):
    return factories.user(factories.organisation("cooperative", status="verified", legal_name="HTX Na Đồng Bành"),
                          email="chu@htx.example")


@pytest.fixture
def buyer(app):
    return factories.user(factories.organisation("enterprise", status="verified", legal_name="Công ty Thực phẩm Sạch"),
                          email="mua@dn.example")


@pytest.fixture
def stranger(app):
    return factories.user(factories.organisation("enterprise", status="verified"), email="khac@dn.example")


@pytest.fixture
def products(seller):
    cooperative = seller.organisation
    return [factories.product(cooperative, name="Na dai Chi Lăng", unit="kg", base_price_vnd=60000,
                              tiers=[(100, 55000), (1000, 50000)]),
            factories.product(cooperative, name="Mật ong rừng", unit="lit", base_price_vnd=400000)]


def proposal(products, **changes):
    values = {
        "lines": [{"product_id": products[0].id, "quantity": 2000, "period": "month", "price_basis": "tier"},
                  {"product_id": products[1].id, "quantity": 50, "period": "total", "price_basis": "fixed",
                   "unit_price_vnd": 380000}],
        "start_date": START.isoformat(), "end_date": (START + timedelta(days=365)).isoformat(),
        "delivery_place": "Kho Hà Nội", "delivery_frequency": "Hằng tuần", "lead_time_days": 5,
        "quality_standards": "VietGAP", "quality_certifications": ["vietgap"], "sampling": "Mẫu mỗi lô",
        "payment_terms": "30% đặt cọc, 70% khi giao", "buyer_responsibilities": "Nhận hàng đúng hẹn",
        "seller_responsibilities": "Giao đủ số lượng", "clauses": ["Tranh chấp giải quyết qua thương lượng."],
    }
    values.update(changes)
    return terms.TermsDetails.from_mapping(values)


def kinds(agreement):
    return [e.kind for e in db.session.scalars(db.select(AgreementEvent).filter_by(agreement_id=agreement.id)
                                               .order_by(AgreementEvent.id))]


def test_a_buyer_drafts_and_sends_and_the_cooperative_answers_in_turn(app, outbox, buyer, seller, products, stranger):
    agreement = services.draft(buyer, seller.organisation_id, proposal(products), note="Đề xuất ban đầu")
    assert agreement.reference.startswith(f"MOU-{date.today().year}-") and agreement.state == AgreementState.DRAFT
    assert agreement.role_of(buyer.organisation_id) == PartyRole.BUYER
    assert agreement.role_of(seller.organisation_id) == PartyRole.SELLER
    line = agreement.latest_revision.lines[0]
    assert (line.name, line.unit, line.unit_price_vnd) == ("Na dai Chi Lăng", "kg", 50000)  # the 1,000+ tier
    with pytest.raises(NotFound):
        services.get_agreement(seller, agreement.id)  # a draft is the initiator's own until sent

    services.send(buyer, agreement.id)
    assert agreement.state == AgreementState.SENT and agreement.turn_id == seller.organisation_id
    assert [m.to for m in outbox] == [[seller.email]]
    with pytest.raises(services.InvalidTransition):
        services.accept(buyer, agreement.id)  # not the buyer's turn
    with pytest.raises(NotFound):
        services.get_agreement(stranger, agreement.id)

    changed = proposal(products, delivery_place="Kho Hải Phòng")
    services.revise(seller, agreement.id, changed, note="Giao tại Hải Phòng")
    assert agreement.state == AgreementState.NEGOTIATING and agreement.turn_id == buyer.organisation_id
    assert [r.number for r in agreement.revisions] == [1, 2]
    [change] = terms.compare(*agreement.revisions)
    assert (change.field, change.before, change.after) == ("delivery_place", "Kho Hà Nội", "Kho Hải Phòng")
    with pytest.raises(services.InvalidTransition):
        services.revise(seller, agreement.id, changed)  # the turn has passed to the buyer

    services.decline(buyer, agreement.id, "Giá chưa phù hợp")
    assert agreement.state == AgreementState.DECLINED and agreement.state_reason == "Giá chưa phù hợp"
    assert kinds(agreement) == [AgreementEventKind.CREATED, AgreementEventKind.SENT, AgreementEventKind.REVISED,
                                AgreementEventKind.DECLINED]
    with pytest.raises(services.InvalidTransition):
        services.revise(buyer, agreement.id, changed)  # nothing moves after a decline


def test_revisions_are_immutable_once_sent_and_an_unchanged_proposal_is_refused(app, buyer, seller, products):
    agreement = services.draft(buyer, seller.organisation_id, proposal(products))
    services.revise(buyer, agreement.id, proposal(products, sampling="Hai mẫu mỗi lô"))  # a draft is edited in place
    assert [r.number for r in agreement.revisions] == [1] and agreement.latest_revision.terms["sampling"] == "Hai mẫu mỗi lô"
    services.send(buyer, agreement.id)
    first_hash = agreement.latest_revision.content_sha256
    with pytest.raises(ValidationFailed):
        services.revise(seller, agreement.id, proposal(products, sampling="Hai mẫu mỗi lô"))
    services.revise(seller, agreement.id, proposal(products, sampling="Ba mẫu mỗi lô"))
    assert agreement.revisions[0].content_sha256 == first_hash
    assert agreement.revisions[1].content_sha256 != first_hash


def test_terms_are_checked_in_the_service(app, buyer, seller, products):
    other = factories.product(factories.organisation("cooperative", status="verified"), name="Hồi khô")
    hidden = factories.product(seller.organisation, name="Quế", status="hidden")
    bad = proposal(products, lines=[
        {"product_id": other.id, "quantity": 10, "period": "month", "price_basis": "tier"},
        {"product_id": hidden.id, "quantity": 10, "period": "month", "price_basis": "tier"},
        {"product_id": products[0].id, "quantity": 0, "period": "fortnight", "price_basis": "reference",
         "reference_price_vnd": 50000, "adjustment_percent": 80},
    ], start_date="2026-13-01", end_date="", delivery_place="", clauses=["x" * 5000])
    with pytest.raises(ValidationFailed) as caught:
        services.draft(buyer, seller.organisation_id, bad)
    assert set(caught.value.errors) == {
        "lines.0.product_id", "lines.1.product_id", "lines.2.quantity", "lines.2.period",
        "lines.2.adjustment_percent", "start_date", "end_date", "delivery_place", "clauses"}
    reference = proposal(products, lines=[{"product_id": products[0].id, "quantity": 10, "period": "week",
                                           "price_basis": "reference", "reference_price_vnd": 50000,
                                           "adjustment_percent": "-5"}])
    agreement = services.draft(buyer, seller.organisation_id, reference)
    assert agreement.latest_revision.lines[0].unit_price_vnd == 47500


def test_only_verified_organisations_of_the_other_kind_make_mous(app, buyer, seller, products, pending_cooperative_owner):
    with pytest.raises(ValidationFailed):
        services.draft(buyer, pending_cooperative_owner.organisation_id, proposal(products))
    with pytest.raises(ValidationFailed):
        services.draft(buyer, factories.organisation("enterprise", status="verified").id, proposal(products))
    with pytest.raises(Forbidden):
        services.draft(pending_cooperative_owner, buyer.organisation_id, proposal(products))
    # A cooperative can start one too, towards a verified enterprise.
    agreement = services.draft(seller, buyer.organisation_id, proposal(products))
    assert agreement.buyer_id == buyer.organisation_id and agreement.initiator_id == seller.organisation_id


def test_withdrawing_and_adding_the_alliance_as_witness(app, buyer, seller, products, alliance_user):
    agreement = services.draft(buyer, seller.organisation_id, proposal(products))
    services.send(buyer, agreement.id)
    services.add_witness(seller, agreement.id)
    assert agreement.witness_id == alliance_user.organisation_id
    assert [role for role, _o in agreement.parties()] == [PartyRole.SELLER, PartyRole.BUYER, PartyRole.WITNESS]
    assert services.get_agreement(alliance_user, agreement.id) is agreement
    with pytest.raises(ValidationFailed):
        services.withdraw(seller, agreement.id, "  ")
    services.withdraw(seller, agreement.id, "Hết mùa vụ")
    assert agreement.state == AgreementState.WITHDRAWN
    with pytest.raises(services.InvalidTransition):
        services.withdraw(buyer, agreement.id, "Lần nữa")


def test_the_list_shows_each_organisation_its_own_agreements(app, buyer, seller, products, stranger, alliance_user):
    sent = services.send(buyer, services.draft(buyer, seller.organisation_id, proposal(products)).id)
    draft = services.draft(buyer, seller.organisation_id, proposal(products))
    assert [a.id for a in services.list_agreements(buyer).items] == [draft.id, sent.id]
    assert [a.id for a in services.list_agreements(seller).items] == [sent.id]  # not the buyer's draft
    assert services.list_agreements(stranger).items == []
    assert {a.id for a in services.list_agreements(alliance_user).items} == {draft.id, sent.id}
    assert [a.id for a in services.list_agreements(buyer, state="draft").items] == [draft.id]


def test_lapsed_agreements_expire_once(app, buyer, seller, products):
    agreement = services.send(buyer, services.draft(buyer, seller.organisation_id, proposal(products)).id)
    assert services.expire_lapsed(on=agreement.end_date) == []
    assert services.expire_lapsed(on=agreement.end_date + timedelta(days=1)) == [agreement]
    assert agreement.state == AgreementState.EXPIRED and agreement.turn_id is None
    assert services.expire_lapsed(on=agreement.end_date + timedelta(days=2)) == []
    assert kinds(agreement)[-1] == AgreementEventKind.EXPIRED


def test_the_daily_reminder_is_sent_once_per_step_to_whoever_is_awaited(app, outbox, buyer, seller, products):
    from freezegun import freeze_time

    agreement = services.send(buyer, services.draft(buyer, seller.organisation_id, proposal(products)).id)
    outbox.clear()
    assert services.remind() == ([], [])  # not waiting long enough yet
    later = agreement.state_changed_at + timedelta(days=app.config["AGREEMENT_REMINDER_DAYS"], minutes=1)
    with freeze_time(later):
        assert services.remind() == ([], [agreement])
        assert [m.to for m in outbox] == [[seller.email]]  # the cooperative's turn, not the buyer's
        assert services.remind() == ([], [])  # once per step
    services.revise(seller, agreement.id, proposal(products, sampling="Mỗi lô một mẫu"))
    with freeze_time(later + timedelta(days=app.config["AGREEMENT_REMINDER_DAYS"] + 1)):
        assert services.remind() == ([], [agreement])  # a new step: the buyer's turn
        assert outbox[-1].to == [buyer.email]
    result = app.test_cli_runner().invoke(args=["agreements", "list"])
    assert result.output.startswith(f"{agreement.reference}\tnegotiating\t")
