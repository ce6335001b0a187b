"""The password asked to sign an MoU is held to the login throttle (accounts/throttle.py): it used to be
checked without any limit, so whoever held a session or an API token could guess it as fast as the
server answered. Wrong signing passwords count with wrong logins, per (account, address) and per account:
after the free ones that address waits (429 with Retry-After, the password not even checked), and the
wrong password that brings the account to its ceiling emails the owner an unlock link."""
from datetime import date, timedelta

import pytest
import sqlalchemy as sa
from freezegun import freeze_time

from marketplace.accounts import services as accounts
from marketplace.accounts import throttle
from marketplace.accounts.models import LoginUnlock, OrganisationEvent, OrganisationEventKind
from marketplace.agreements import services, terms
from marketplace.agreements.models import Agreement, AgreementState
from marketplace.errors import ValidationFailed
from marketplace.extensions import db
from tests import factories
from tests.support import bearer

FREE = 5  # LOGIN_FREE_FAILURES
WRONG = "đây không phải mật khẩu"
IP = "198.51.100.40"
# As in tests/accounts/test_rate_limit.py: far ahead of the real clock, which the memory storage's cleanup reads.
START = "2099-06-01 09:00:00"


@pytest.fixture
def seller(app):
    return factories.user(factories.organisation("cooperative", legal_name="HTX Na Đồng Bành"),
                          email="chu@htx.example")


@pytest.fixture
def awaiting(seller):
    """An MoU whose terms both sides accepted: the seller may sign it."""
    buyer = factories.user(factories.organisation("enterprise", legal_name="Công ty Thực phẩm Sạch"),
                           email="mua@dn.example")
    product = factories.product(seller.organisation, name="Na dai Chi Lăng", base_price_vnd=60000, min_order_qty=100)
    start = date.today() + timedelta(days=7)
    proposal = terms.TermsDetails.from_mapping({
        "lines": [{"product_id": product.id, "quantity": 2000, "period": "month", "price_basis": "tier"}],
        "start_date": start.isoformat(), "end_date": (start + timedelta(days=365)).isoformat(),
        "delivery_place": "Kho Hà Nội", "clauses": ["Điều khoản một."]})
    agreement = services.send(buyer, services.draft(buyer, seller.organisation_id, proposal).id)
    return services.accept(seller, agreement.id)


def state(agreement):
    db.session.expire_all()
    return db.session.get(Agreement, agreement.id).state


def sign_on_the_page(client, agreement, password, ip=IP):
    return client.post(f"/agreements/{agreement.id}/sign", data={"password": password},
                       environ_base={"REMOTE_ADDR": ip})


def log_in(client, user, ip=IP):
    return client.post("/login", data={"email": user.email, "password": factories.PASSWORD},
                       environ_base={"REMOTE_ADDR": ip})


def test_wrong_signing_passwords_wait_like_wrong_logins(app, seller, awaiting):
    with freeze_time(START) as clock:
        client = app.test_client()
        assert log_in(client, seller).status_code == 302
        assert [sign_on_the_page(client, awaiting, WRONG).status_code for _ in range(FREE)] == [422] * FREE
        # The address now waits: even the right password is not checked, and the form says why.
        refused = sign_on_the_page(client, awaiting, factories.PASSWORD)
        assert refused.status_code == 429 and refused.headers["Retry-After"] == "1"
        assert 'id="password-error"' in refused.get_data(as_text=True)
        assert state(awaiting) == AgreementState.AWAITING_SIGNATURES
        # The counters are the login's: logging in to this account from this address waits too ...
        assert log_in(app.test_client(), seller).status_code == 429
        # ... while the owner elsewhere is not slowed.
        assert log_in(app.test_client(), seller, ip="192.0.2.77").status_code == 302

        clock.tick(timedelta(seconds=1))
        assert sign_on_the_page(client, awaiting, factories.PASSWORD).status_code == 302
        assert state(awaiting) == AgreementState.PARTIALLY_SIGNED


def test_the_api_answers_429_with_retry_after(app, client, seller, awaiting):
    headers = bearer(accounts.create_api_token(seller, "ERP")[1])
    path = f"/api/v1/agreements/{awaiting.id}/sign"
    with freeze_time(START):
        statuses = [client.post(path, json={"password": WRONG}, headers=headers,
                                environ_base={"REMOTE_ADDR": IP}).status_code for _ in range(FREE)]
        assert statuses == [422] * FREE
        refused = client.post(path, json={"password": factories.PASSWORD}, headers=headers,
                              environ_base={"REMOTE_ADDR": IP})
        assert refused.status_code == 429 and refused.json["error"]["code"] == "login_delayed"
        assert refused.headers["Retry-After"] == "1"
    assert state(awaiting) == AgreementState.AWAITING_SIGNATURES


def test_the_wrong_signing_password_that_reaches_the_ceiling_emails_the_unlock_link(app, seller, awaiting, outbox):
    """The unlock email is written outside the signing's unit of work, so the refusal does not roll it back."""
    app.config["LOGIN_FAILURES_PER_ACCOUNT"] = "3 per hour"
    with freeze_time(START):
        for n in range(3):
            with pytest.raises(ValidationFailed):
                services.sign(seller, awaiting.id, WRONG, client=throttle.Client(address=f"203.0.113.{n + 1}"))
        # At the ceiling a browser the account does not know is refused before the password is checked.
        with pytest.raises(throttle.TooManyAttempts):
            services.sign(seller, awaiting.id, factories.PASSWORD, client=throttle.Client(address="203.0.113.9"))
    db.session.expire_all()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(LoginUnlock)) == 1
    assert db.session.scalar(sa.select(OrganisationEvent.kind).order_by(OrganisationEvent.id.desc()).limit(1)) \
        == OrganisationEventKind.LOGIN_CEILING_REACHED
    assert [m.to for m in outbox if "/login/unlock/" in m.body] == [[seller.email]]
    assert state(awaiting) == AgreementState.AWAITING_SIGNATURES
