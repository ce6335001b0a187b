"""The follow-up log of an MoU: alliance staff record calls, visits, meetings and other contacts; both parties
read the timeline on the MoU's page; a third party gets 404; each change writes one named event."""
from datetime import timedelta

import pytest
import sqlalchemy as sa

from marketplace.agreements.models import AgreementEvent, AgreementEventKind, AgreementState, PartyRole
from marketplace.alliance import followup_log, nudges
from marketplace.alliance.followup_models import FollowUpEntry, FollowUpKind
from marketplace.catalog.services import today
from marketplace.errors import Conflict, Forbidden, NotFound, ValidationFailed
from marketplace.extensions import db
from tests import factories


def entry(**overrides):
    values = {"kind": "call", "happened_on": today().isoformat(), "party": "seller",
              "note": "HTX báo thiếu kho lạnh; liên minh giới thiệu quỹ hỗ trợ phát triển HTX."}
    values.update(overrides)
    return followup_log.EntryDetails.from_mapping(values)


def test_alliance_staff_record_contacts_and_both_parties_read_them_newest_first(party_mou, outbox):
    older = followup_log.record(party_mou.alliance, party_mou.agreement.id, entry(kind="visit", party="",
                                happened_on=(today() - timedelta(days=7)).isoformat()))
    newer = followup_log.record(party_mou.alliance, party_mou.agreement.id, entry())
    for person in (party_mou.seller, party_mou.buyer, party_mou.seller_member, party_mou.alliance):
        assert [e.id for e in followup_log.entries(person, party_mou.agreement)] == [newer.id, older.id]
    assert (newer.kind, newer.party, older.party) == (FollowUpKind.CALL, PartyRole.SELLER, None)
    recorded = db.session.scalars(sa.select(AgreementEvent).filter_by(
        agreement_id=party_mou.agreement.id, kind=AgreementEventKind.FOLLOW_UP_RECORDED)).all()
    assert len(recorded) == 2 and all(e.user_id == party_mou.alliance.id for e in recorded)
    assert outbox == []  # the log records what happened with the parties; a nudge is how to reach them


def test_parties_read_the_log_but_do_not_write_it_and_a_third_party_gets_nothing(party_mou):
    for party in (party_mou.seller, party_mou.buyer):
        with pytest.raises(Forbidden) as refused:
            followup_log.record(party, party_mou.agreement.id, entry())
        assert refused.value.code == "alliance_only"
    with pytest.raises(NotFound):
        followup_log.record(party_mou.stranger, party_mou.agreement.id, entry())
    with pytest.raises(NotFound):
        followup_log.entries(party_mou.stranger, party_mou.agreement)
    assert db.session.scalar(sa.select(sa.func.count(FollowUpEntry.id))) == 0


@pytest.mark.parametrize(("overrides", "field"), [
    ({"kind": "nudge"}, "kind"),  # only a nudge writes a nudge
    ({"kind": "email"}, "kind"),
    ({"happened_on": "hôm qua"}, "happened_on"),
    ({"happened_on": "tomorrow"}, "happened_on"),  # in Vietnam
    ({"party": "witness"}, "party"),
    ({"note": "\u200b"}, "note"),
    ({"note": "x" * 4001}, "note"),
])
def test_bad_entries_are_refused_at_their_field(party_mou, overrides, field):
    if overrides.get("happened_on") == "tomorrow":
        overrides = {"happened_on": (today() + timedelta(days=1)).isoformat()}
    with pytest.raises(ValidationFailed) as refused:
        followup_log.record(party_mou.alliance, party_mou.agreement.id, entry(**overrides))
    assert field in refused.value.errors


def test_the_log_is_kept_for_mous_in_any_state(party_mou):
    party_mou.agreement.state = AgreementState.EXPIRED
    db.session.commit()
    followup_log.record(party_mou.alliance, party_mou.agreement.id, entry(kind="meeting"))
    assert len(followup_log.entries(party_mou.buyer, party_mou.agreement)) == 1


def test_staff_remove_an_entry_but_not_a_nudge_and_the_evidence_log_keeps_it(party_mou):
    mistake = followup_log.record(party_mou.alliance, party_mou.agreement.id, entry(note="Ghi nhầm hợp đồng"))
    nudge = nudges.nudge(party_mou.alliance, party_mou.agreement.id, "buyer", "Đề nghị đặt đơn hàng tháng này.")
    with pytest.raises(Forbidden):
        followup_log.delete(party_mou.buyer, party_mou.agreement.id, mistake.id)
    with pytest.raises(NotFound):
        followup_log.delete(party_mou.stranger, party_mou.agreement.id, mistake.id)
    with pytest.raises(Conflict):
        followup_log.delete(party_mou.alliance, party_mou.agreement.id, nudge.id)
    followup_log.delete(party_mou.alliance, party_mou.agreement.id, mistake.id)
    assert [e.id for e in followup_log.entries(party_mou.alliance, party_mou.agreement)] == [nudge.id]
    [removed] = db.session.scalars(sa.select(AgreementEvent).filter_by(
        agreement_id=party_mou.agreement.id, kind=AgreementEventKind.FOLLOW_UP_DELETED)).all()
    assert "Ghi nhầm hợp đồng" in removed.note


def test_an_entry_of_another_mou_is_not_found_through_this_one(party_mou):
    other = factories.signed_mou(party_mou.buyer.organisation, party_mou.seller.organisation,
                                 {factories.product(party_mou.seller.organisation): 1000})
    elsewhere = followup_log.record(party_mou.alliance, other.id, entry())
    with pytest.raises(NotFound):
        followup_log.delete(party_mou.alliance, party_mou.agreement.id, elsewhere.id)


def test_the_timeline_on_the_mou_page(party_mou, app, client, auth):
    page = f"/agreements/{party_mou.agreement.id}"
    auth.login(party_mou.buyer.email)
    html = client.get(page).get_data(as_text=True)
    assert 'id="no-follow-up"' in html and 'id="record-follow-up"' not in html and 'id="nudge"' not in html
    assert client.post(f"{page}/follow-up", data={"log-kind": "call", "log-note": "x"}).status_code == 302
    assert db.session.scalar(sa.select(sa.func.count(FollowUpEntry.id))) == 0  # refused: flashed on the page

    staff = app.test_client()
    staff.post("/login", data={"email": party_mou.alliance.email, "password": factories.PASSWORD})
    html = staff.get(page).get_data(as_text=True)
    assert 'id="record-follow-up"' in html and 'id="nudge"' in html
    assert 'for="log-note"' in html  # labelled fields
    response = staff.post(f"{page}/follow-up", data={"log-kind": "visit", "log-happened_on": today().isoformat(),
                                                     "log-party": "", "log-note": "Thăm vườn na <script>"})
    assert response.status_code == 302
    response = staff.post(f"{page}/follow-up", data={"log-kind": "", "log-happened_on": "", "log-note": ""})
    assert response.status_code == 422
    assert 'id="log-kind-error"' in response.get_data(as_text=True)

    html = client.get(page).get_data(as_text=True)
    assert "Thăm vườn na &lt;script&gt;" in html and 'id="no-follow-up"' not in html

    stranger = app.test_client()
    stranger.post("/login", data={"email": party_mou.stranger.email, "password": factories.PASSWORD})
    entry_id = db.session.scalar(sa.select(FollowUpEntry.id))
    assert stranger.post(f"{page}/follow-up", data={"log-kind": "call"}).status_code == 404
    assert stranger.post(f"{page}/follow-up/{entry_id}/delete").status_code == 404
    assert staff.post(f"{page}/follow-up/{entry_id}/delete").status_code == 302
    assert db.session.scalar(sa.select(sa.func.count(FollowUpEntry.id))) == 0
