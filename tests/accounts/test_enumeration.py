"""No account enumeration (checklist row 39, issue 12): registration and forgot-password answer the same
words, with the same work, whether or not the email has an account, and are rate-limited per client
address and per email. The owner of an existing email gets an email instead of a page saying so.

Registration used to answer "An account with this email already exists" (50 probes answered), and
forgot-password took 29.5 ms for a known email and 12.4 ms for an unknown one.
"""
import contextlib
import re
import statistics
import time
from datetime import timedelta

import pytest
import sqlalchemy as sa
from freezegun import freeze_time

from marketplace import notifications
from marketplace.accounts import passwords, services
from marketplace.accounts.models import (
    Invitation,
    Organisation,
    OrganisationEvent,
    OrganisationEventKind,
    PendingRegistration,
    User,
)
from marketplace.extensions import db
from tests import factories
from tests.support import confirmation_link, csrf_token_from, login_with_form

TOKEN_VALUE = re.compile(r'(name="csrf_token" (?:type="hidden" )?value=")[^"]+"')


def count(model):
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def without_tokens(html):
    return TOKEN_VALUE.sub(r'\1"', html)


@pytest.fixture
def owner(app):
    return factories.user(factories.organisation("cooperative"), email="chu@htx.example")


@pytest.fixture
def csrf_app(make_app):
    app = make_app(WTF_CSRF_ENABLED=True)
    with app.app_context():
        yield app
        db.session.remove()


def submit(app, path, data, ip="198.51.100.7"):
    """A fresh browser: open the form, post it with its CSRF token, follow the redirect. Returns the
    post's answer and the page it led to (tokens blanked)."""
    client = app.test_client()
    environ = {"REMOTE_ADDR": ip}
    token = csrf_token_from(client.get(path, environ_base=environ).get_data(as_text=True))
    response = client.post(path, data={**data, "csrf_token": token}, environ_base=environ)
    page = client.get(response.headers["Location"], environ_base=environ) if response.status_code == 302 else response
    return response, without_tokens(page.get_data(as_text=True))


@contextlib.contextmanager
def work_done():
    """What a request costs: password hashes, emails rendered, and SQL statements by verb."""
    work = {"hashes": 0, "emails": 0, "SELECT": 0, "INSERT": 0, "UPDATE": 0, "DELETE": 0}
    hash_password, send = passwords.hash_password, notifications.send

    def counting_hash(password):
        work["hashes"] += 1
        return hash_password(password)

    def counting_send(*args, **kwargs):
        work["emails"] += 1
        return send(*args, **kwargs)

    def record(_conn, _cursor, statement, *_args):
        verb = statement.lstrip().split(None, 1)[0].upper()
        if verb in work:
            work[verb] += 1

    passwords.hash_password, notifications.send = counting_hash, counting_send
    sa.event.listen(db.engine, "before_cursor_execute", record)
    try:
        yield work
    finally:
        passwords.hash_password, notifications.send = hash_password, send
        sa.event.remove(db.engine, "before_cursor_execute", record)


# ---------------------------------------------------------------- registration

def test_registering_a_registered_email_answers_like_a_new_one(csrf_app):
    outbox = csrf_app.extensions["mailman"].outbox = []
    owner = factories.user(factories.organisation("cooperative"), email="chu@htx.example")
    taken = factories.registration_form("cooperative", owner_email="Chu@HTX.example")
    new = factories.registration_form("cooperative", owner_email="moi@htx.example", tax_code=taken["tax_code"])
    taken_answer, taken_page = submit(csrf_app, "/register/cooperative", taken)
    new_answer, new_page = submit(csrf_app, "/register/cooperative", new)

    assert taken_answer.status_code == new_answer.status_code == 302
    assert taken_answer.headers["Location"] == new_answer.headers["Location"]
    assert taken_answer.get_data() == new_answer.get_data()
    assert taken_page.replace("chu@htx.example", "EMAIL") == new_page.replace("moi@htx.example", "EMAIL")
    assert "đã có tài khoản" not in taken_page  # what the probe read: "Email này đã có tài khoản…"

    # The owner of the registered email is told by email, and given no link that creates anything.
    assert [m.to for m in outbox] == [["chu@htx.example"], ["moi@htx.example"]]
    attempt, confirm = outbox
    assert "/register/confirm/" not in attempt.body and "/forgot-password" in attempt.body
    assert "/register/confirm/" in confirm.body
    assert count(User) == 1 and count(Organisation) == 1 and count(PendingRegistration) == 1
    assert db.session.get(User, owner.id).organisation_id == owner.organisation_id


def test_no_account_exists_before_the_email_is_confirmed(app, client, outbox):
    """Else logging in with the password just chosen would tell a new email (it works) from a taken one."""
    data = factories.registration_form("enterprise", owner_email="moi@dn.example")
    assert client.post("/register/enterprise", data=data).status_code == 302
    assert login_with_form(app.test_client(), "moi@dn.example").status_code == 401
    assert client.post(confirmation_link(app, "moi@dn.example")).status_code == 302
    assert login_with_form(app.test_client(), "moi@dn.example").status_code == 302


def test_both_registration_paths_do_the_same_work(app, owner, outbox):
    def request(email):
        data = factories.registration_form("cooperative", owner_email=email)
        details = services.OrganisationDetails.from_mapping(data)
        with work_done() as work:
            services.request_registration("cooperative", details, email, data["full_name"], data["password"])
        return work

    taken, new = request(owner.email), request("moi@htx.example")
    assert taken["hashes"] == new["hashes"] == 1  # Argon2id, by far the dearest step
    assert taken["emails"] == new["emails"] == 1
    assert taken["SELECT"] == new["SELECT"]
    # The new email's request row is the only difference: one small INSERT.
    assert (taken["INSERT"], new["INSERT"]) == (1, 2)


def test_the_confirmation_link_works_once_and_for_a_day(app, client, outbox):
    data = factories.registration_form("cooperative", owner_email="mot@htx.example")
    with freeze_time("2026-05-01 08:00:00") as clock:
        client.post("/register/cooperative", data=data)
        client.post("/register/cooperative", data={**data, "legal_name": "HTX Hai"})  # typed twice
        first, second = [re.search(r"/register/confirm/\S+", m.body).group(0) for m in outbox]
        clock.tick(timedelta(hours=23, minutes=59))
        assert client.post(second).status_code == 302
        assert db.session.scalar(sa.select(Organisation.legal_name)) == "HTX Hai"
        # Every request of the email is spent: none keeps a password hash.
        assert count(PendingRegistration) == 0
        # A finished registration's link is unknown (its record is gone): 404, with the way to log in.
        for response in (client.get(first), client.get(second)):
            page = response.get_data(as_text=True)
            assert response.status_code == 404 and 'href="/login"' in page and 'href="/register"' in page

        client.post("/logout")
        late = factories.registration_form("cooperative", owner_email="muon@htx.example")
        client.post("/register/cooperative", data=late)
        link = confirmation_link(app, "muon@htx.example")
        clock.tick(timedelta(hours=24, seconds=1))
        # An expired link says so (410 Gone) and offers to register again.
        for response in (client.get(link), client.post(link)):
            assert response.status_code == 410 and 'href="/register"' in response.get_data(as_text=True)
        assert count(User) == 1
        assert app.test_cli_runner().invoke(args=["accounts", "prune"]).output.startswith("Deleted 1 ")
        assert count(PendingRegistration) == 0
        assert client.get(link).status_code == 404


def test_a_tax_code_registered_meanwhile_stops_the_confirmation_with_a_reason(app, client, outbox):
    client.post("/language", data={"lang": "en"})
    data = factories.registration_form("cooperative", owner_email="cham@htx.example")
    client.post("/register/cooperative", data=data)
    factories.organisation("cooperative", tax_code=data["tax_code"])
    response = client.post(confirmation_link(app, "cham@htx.example"), follow_redirects=True)
    assert "already registered" in response.get_data(as_text=True)
    assert count(User) == 0


def test_registration_is_rate_limited_per_address(app, owner, outbox):
    """Issue 12: 50 probes were answered. Refreshing the communes (no JavaScript) is not a registration."""
    client, ip = app.test_client(), {"REMOTE_ADDR": "203.0.113.50"}
    for _ in range(3):
        assert client.post("/register/cooperative", data={"province_code": "20", "refresh_communes": "1"},
                           environ_base=ip).status_code == 200
    statuses = [client.post("/register/cooperative", environ_base=ip, data=factories.registration_form(
        "cooperative", owner_email=f"do{n}@htx.example")).status_code for n in range(50)]
    assert statuses[:20] == [302] * 20 and set(statuses[20:]) == {429}
    assert client.post("/register/cooperative", environ_base={"REMOTE_ADDR": "203.0.113.51"},
                       data=factories.registration_form()).status_code == 302


def test_registration_is_rate_limited_per_email(app, owner, outbox):
    """Whoever asks, from wherever: an address gets at most three emails an hour from registration."""
    statuses = [app.test_client().post("/register/cooperative", environ_base={"REMOTE_ADDR": f"192.0.2.{n}"},
                                       data=factories.registration_form(owner_email=email)).status_code
                for n, email in enumerate(["chu@htx.example", "CHU@htx.example", "Chu@Htx.Example", "chu@htx.example"])]
    assert statuses == [302, 302, 302, 429]
    assert len(outbox) == 3


# ---------------------------------------------------------------- forgot-password

def test_both_forgot_password_paths_do_the_same_work(app, owner, outbox):
    def request(email):
        with work_done() as work:
            services.request_password_reset(email)
        return work

    known, unknown = request(owner.email), request("khong-co@htx.example")
    assert known["emails"] == unknown["emails"] == 1
    assert known["SELECT"] == unknown["SELECT"]
    assert known["hashes"] == unknown["hashes"] == 0
    # The reset link's row, its event and the records' version the event raises (versions.RECORDS: the account's
    # history shows events) are the only difference: three small INSERTs.
    assert (known["INSERT"], unknown["INSERT"]) == (4, 1)


def test_forgot_password_is_rate_limited_per_address_and_per_email(app, owner, outbox):
    client, ip = app.test_client(), {"REMOTE_ADDR": "203.0.113.60"}
    statuses = [client.post("/forgot-password", data={"email": f"thu{n}@htx.example"}, environ_base=ip).status_code
                for n in range(12)]
    assert statuses == [302] * 10 + [429] * 2
    statuses = [app.test_client().post("/forgot-password", data={"email": owner.email.upper()},
                                       environ_base={"REMOTE_ADDR": f"192.0.2.{n}"}).status_code for n in range(5)]
    assert statuses == [302] * 3 + [429] * 2


@pytest.mark.slow
def test_forgot_password_takes_the_same_time_for_known_and_unknown_emails(make_app):
    """The probe's measure, with a generous tolerance: medians of many alternating requests."""
    app = make_app(RATELIMIT_ENABLED=False)
    with app.app_context():
        owner = factories.user(factories.organisation("cooperative"), email="chu@htx.example")
        client = app.test_client()
        timings = {"known": [], "unknown": []}
        for n in range(60):
            for kind, email in (("known", owner.email), ("unknown", f"khong-co-{n}@htx.example")):
                start = time.perf_counter()
                assert client.post("/forgot-password", data={"email": email}).status_code == 302
                timings[kind].append(time.perf_counter() - start)
        known, unknown = (statistics.median(timings[kind][10:]) for kind in ("known", "unknown"))
        assert abs(known - unknown) < 0.003 + 0.25 * max(known, unknown), (known, unknown)
        db.session.remove()


# ---------------------------------------------------------------- invitations

def test_inviting_an_email_that_has_an_account_answers_like_a_new_one(app, client, owner, outbox):
    """The invitation form used to answer "This person already has an account on Chợ HTX": any
    self-registered owner could test addresses. Now the page, the list of open invitations and the history
    are the same; the account's owner gets a note instead of a link."""
    other = factories.user(factories.organisation("enterprise"), email="khac@dn.example", full_name="Trần Văn Khác")
    login_with_form(client, owner.email)

    def invite(email):
        with work_done() as work:
            response = client.post("/organisation/members/invite", data={"email": email, "role": "member"})
        page = client.get(response.headers["Location"]) if response.status_code == 302 else response
        html = without_tokens(page.get_data(as_text=True)).replace(email.lower(), "EMAIL").replace(email, "EMAIL")
        return response, re.sub(r"/organisation/invitations/\d+/", "/organisation/invitations/ID/", html), work

    taken_answer, taken_page, taken_work = invite("Khac@DN.example")
    # Revoked, so that the next page lists only the next invitation, as this one listed only this.
    services.revoke_invitation(owner, db.session.scalar(sa.select(Invitation.id)))
    new_answer, new_page, new_work = invite("moi@htx.example")
    assert taken_answer.status_code == new_answer.status_code == 302
    assert taken_answer.headers["Location"] == new_answer.headers["Location"]
    assert taken_page == new_page and "EMAIL" in taken_page  # the message, and the open invitation listed
    assert "đã có tài khoản" not in taken_page
    assert taken_work == new_work
    invitations = db.session.scalars(sa.select(Invitation.email).order_by(Invitation.id)).all()
    assert invitations == ["khac@dn.example", "moi@htx.example"]
    kinds = db.session.scalars(sa.select(OrganisationEvent.kind).order_by(OrganisationEvent.id)).all()
    assert kinds == [OrganisationEventKind.MEMBER_INVITED, OrganisationEventKind.INVITATION_REVOKED,
                     OrganisationEventKind.MEMBER_INVITED]

    # The account's owner is told, with no link that could join anything; the new address gets its link.
    assert [m.to for m in outbox] == [["khac@dn.example"], ["moi@htx.example"]]
    note, invitation = outbox
    assert note.subject == invitation.subject
    assert "/invitations/" not in note.body and "Trần Văn Khác" in note.body
    assert "/invitations/" in invitation.body
    assert db.session.get(User, other.id).organisation_id == other.organisation_id


def test_inviting_a_colleague_of_ones_own_organisation_is_explained(app, client, owner):
    """The members page lists them anyway: saying so reveals nothing."""
    factories.user(owner.organisation, email="dongnghiep@htx.example", role="member")
    login_with_form(client, owner.email)
    client.post("/language", data={"lang": "en"})
    response = client.post("/organisation/members/invite", data={"email": "dongnghiep@htx.example", "role": "member"})
    assert response.status_code == 422 and "already a member of your organisation" in response.get_data(as_text=True)
    assert count(Invitation) == 0
