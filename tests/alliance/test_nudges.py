"""Nudges: alliance staff remind one or both parties of an MoU. Each nudge is an in-app notice to the organisation,
an email through the outbox, an entry of the follow-up log and one named event; the same organisation is not
nudged about the same MoU twice within an hour."""
from datetime import timedelta

import pytest
import sqlalchemy as sa

from marketplace.agreements.models import AgreementEvent, AgreementEventKind, AgreementState
from marketplace.alliance import followup_log, nudges
from marketplace.alliance.followup_models import FollowUpEntry, FollowUpKind, Nudge
from marketplace.errors import Conflict, Forbidden, NotFound, ValidationFailed
from marketplace.extensions import db
from marketplace.jobs.models import OutboxMessage
from marketplace.notices import services as notices
from marketplace.notices.models import Notice
from tests import factories
from tests.support import wait_for_a_lock_waiter

MESSAGE = "Đã 45 ngày chưa có đơn hàng theo thỏa thuận. Đề nghị hai bên trao đổi kế hoạch giao hàng tháng 12."


def mail_to(outbox, email):
    return [message for message in outbox if email in message.to]


def count(model):
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def test_a_nudge_to_both_parties_is_a_notice_an_email_a_log_entry_and_an_event(party_mou, outbox):
    entry = nudges.nudge(party_mou.alliance, party_mou.agreement.id, "both", MESSAGE)

    assert (entry.kind, entry.party, entry.note) == (FollowUpKind.NUDGE, None, MESSAGE)
    assert [e.id for e in followup_log.entries(party_mou.buyer, party_mou.agreement)] == [entry.id]
    assert sorted(o.id for o in nudges.nudges_of(party_mou.seller, party_mou.agreement)[entry.id]) == sorted(
        [party_mou.buyer.organisation_id, party_mou.seller.organisation_id])
    for person in (party_mou.seller, party_mou.seller_member, party_mou.buyer):
        [(notice, unread)] = notices.latest(person)
        assert unread and notice.body == MESSAGE and notice.link == f"/agreements/{party_mou.agreement.id}"
        assert party_mou.agreement.reference in notice.title
    assert notices.latest(party_mou.stranger) == []
    assert [m.subject for m in mail_to(outbox, party_mou.buyer.email)] == [m.subject for m in mail_to(outbox, party_mou.seller.email)]
    assert len(mail_to(outbox, party_mou.buyer.email)) == 1 and MESSAGE in mail_to(outbox, party_mou.buyer.email)[0].body
    assert mail_to(outbox, party_mou.seller_member.email) == []  # notices reach everyone; emails those who answer
    [event] = db.session.scalars(sa.select(AgreementEvent).filter_by(agreement_id=party_mou.agreement.id,
                                                                    kind=AgreementEventKind.NUDGED)).all()
    assert event.user_id == party_mou.alliance.id
    assert db.session.scalar(sa.select(sa.func.count(OutboxMessage.id))) == 2


def test_a_nudge_to_one_party_reaches_that_party_only(party_mou, outbox):
    entry = nudges.nudge(party_mou.alliance, party_mou.agreement.id, "seller", MESSAGE)
    assert entry.party.value == "seller"
    assert len(notices.latest(party_mou.seller)) == 1 and notices.latest(party_mou.buyer) == []
    assert mail_to(outbox, party_mou.buyer.email) == [] and len(mail_to(outbox, party_mou.seller.email)) == 1


def test_the_same_party_is_not_nudged_twice_within_an_hour(party_mou, outbox):
    nudges.nudge(party_mou.alliance, party_mou.agreement.id, "seller", MESSAGE)
    other_staff = factories.alliance_user(email="canbo2@lienminh.example")
    before = (count(Notice), count(FollowUpEntry), count(Nudge), len(outbox))
    for target in ("seller", "both"):
        with pytest.raises(nudges.NudgedRecently) as refused:
            nudges.nudge(other_staff, party_mou.agreement.id, target, "Nhắc lại")
        assert refused.value.status == 429 and 0 < refused.value.retry_after <= 3600
    assert (count(Notice), count(FollowUpEntry), count(Nudge), len(outbox)) == before  # nothing went out

    nudges.nudge(party_mou.alliance, party_mou.agreement.id, "buyer", MESSAGE)  # the other party may be nudged
    for row in db.session.scalars(sa.select(Nudge)):
        row.sent_at -= timedelta(minutes=61)
    db.session.commit()
    nudges.nudge(party_mou.alliance, party_mou.agreement.id, "both", "Một giờ sau")
    assert count(Nudge) == 4


def test_only_alliance_staff_nudge_and_a_third_party_gets_404(party_mou):
    for party in (party_mou.seller, party_mou.buyer):
        with pytest.raises(Forbidden):
            nudges.nudge(party, party_mou.agreement.id, "both", MESSAGE)
    with pytest.raises(NotFound):
        nudges.nudge(party_mou.stranger, party_mou.agreement.id, "both", MESSAGE)
    with pytest.raises(NotFound):
        nudges.nudges_of(party_mou.stranger, party_mou.agreement)
    assert count(Notice) == 0


@pytest.mark.parametrize(("target", "message", "field"), [
    ("witness", MESSAGE, "target"), ("", MESSAGE, "target"), ("both", " \u200b", "message"),
    ("both", "x" * 2001, "message"),
])
def test_bad_nudges_are_refused_at_their_field(party_mou, target, message, field):
    with pytest.raises(ValidationFailed) as refused:
        nudges.nudge(party_mou.alliance, party_mou.agreement.id, target, message)
    assert field in refused.value.errors


@pytest.mark.parametrize("state", [AgreementState.VOIDED, AgreementState.COMPLETED, AgreementState.EXPIRED])
def test_an_mou_that_ended_is_not_nudged_about(party_mou, state):
    party_mou.agreement.state = state
    db.session.commit()
    with pytest.raises(Conflict) as refused:
        nudges.nudge(party_mou.alliance, party_mou.agreement.id, "both", MESSAGE)
    assert refused.value.code == "not_nudgeable"


def test_an_mou_awaiting_signatures_can_be_nudged_about(party_mou):
    party_mou.agreement.state = AgreementState.PARTIALLY_SIGNED
    db.session.commit()
    nudges.nudge(party_mou.alliance, party_mou.agreement.id, "buyer", "Bên mua chưa ký thỏa thuận.")
    assert count(Nudge) == 1


# ---------------------------------------------------------------- notices

def test_the_unread_count_in_the_header_and_the_notices_page(party_mou, app, client, auth):
    nudges.nudge(party_mou.alliance, party_mou.agreement.id, "seller", "Nhắc <b>giao hàng</b>")
    assert notices.unread_count(party_mou.seller) == 1 and notices.unread_count(party_mou.seller_member) == 1
    auth.login(party_mou.seller.email)
    home = client.get("/").get_data(as_text=True)
    assert 'id="nav-notices"' in home and 'class="nav-count" aria-hidden="true">1<' in home
    assert 'id="home-notices"' in home

    page = client.get("/notices").get_data(as_text=True)
    assert "Nhắc &lt;b&gt;giao hàng&lt;/b&gt;" in page and f'href="/agreements/{party_mou.agreement.id}"' in page
    assert 'class="notice unread"' in page
    assert notices.unread_count(party_mou.seller) == 0 and notices.unread_count(party_mou.seller_member) == 1
    assert 'class="notice unread"' not in client.get("/notices").get_data(as_text=True)
    assert 'class="nav-count"' not in client.get("/notices").get_data(as_text=True)

    stranger = app.test_client()
    stranger.post("/login", data={"email": party_mou.stranger.email, "password": factories.PASSWORD})
    assert 'id="no-notices"' in stranger.get("/notices").get_data(as_text=True)
    assert app.test_client().get("/notices").status_code == 302


def test_notices_are_posted_only_inside_a_unit_of_work(party_mou):
    with pytest.raises(RuntimeError):
        notices.post(party_mou.seller.organisation, "Tiêu đề")


# ---------------------------------------------------------------- the MoU's page

def test_nudging_from_the_mou_page(party_mou, app, client, auth):
    page = f"/agreements/{party_mou.agreement.id}"
    auth.login(party_mou.alliance.email)
    response = client.post(f"{page}/nudge", data={"nudge-target": "both", "nudge-message": MESSAGE})
    assert response.status_code == 302 and response.headers["Location"].endswith("#follow-up")
    html = client.get(page).get_data(as_text=True)
    assert "kind-nudge" in html and party_mou.buyer.organisation.legal_name in html

    again = client.post(f"{page}/nudge", data={"nudge-target": "seller", "nudge-message": "Lần nữa"})
    assert again.status_code == 429 and 0 < int(again.headers["Retry-After"]) <= 3600
    assert 'id="nudge-target-error"' in again.get_data(as_text=True)
    assert client.post(f"{page}/nudge", data={"nudge-target": "both", "nudge-message": ""}).status_code == 422

    seller = app.test_client()
    seller.post("/login", data={"email": party_mou.seller.email, "password": factories.PASSWORD})
    assert seller.post(f"{page}/nudge", data={"nudge-target": "buyer", "nudge-message": "x"}).status_code == 302
    assert count(Nudge) == 2  # the seller's attempt was refused (flashed)
    stranger = app.test_client()
    stranger.post("/login", data={"email": party_mou.stranger.email, "password": factories.PASSWORD})
    assert stranger.post(f"{page}/nudge", data={"nudge-target": "both", "nudge-message": "x"}).status_code == 404


@pytest.mark.postgresql_only
def test_two_staff_nudging_at_once_send_one_nudge(app, party_mou, monkeypatch):
    """The second member of staff checks the last nudge while the first one's nudge is not committed yet: it waits
    for the first to commit, then is refused (429), instead of both checking, finding none and both sending."""
    import threading

    from marketplace.accounts.models import User

    check = nudges._last_nudge
    staff_id, agreement_id, others, outcome = party_mou.alliance.id, party_mou.agreement.id, [], []

    def second_staff():
        with app.app_context():
            try:
                nudges.nudge(db.session.get(User, staff_id), agreement_id, "both", MESSAGE)
                outcome.append("sent")
            except nudges.NudgedRecently:
                outcome.append("refused")
            finally:
                db.session.remove()

    def check_then_let_the_other_try(agreement, organisation):
        last = check(agreement, organisation)
        if not others:
            others.append(threading.Thread(target=second_staff))
            others[0].start()
            wait_for_a_lock_waiter(db.engine, others[0])  # without the lock, the other nudge just finishes
        return last

    monkeypatch.setattr(nudges, "_last_nudge", check_then_let_the_other_try)
    nudges.nudge(party_mou.alliance, agreement_id, "both", MESSAGE)
    others[0].join(timeout=30)
    assert outcome == ["refused"]
    assert count(Nudge) == 2  # one nudge, to both parties

