"""Checklist row 14 (ASVS 4.1.1 / 4.1.3): server-side access control, deny by default.

Every endpoint of app.url_map must have a row in ACCESS saying what each role gets. A new route without a
row fails test_every_endpoint_is_in_the_access_table, so nobody ships a page without deciding who may see it.
Path parameters are filled with ids belonging to a *victim* cooperative that none of the four roles belongs
to, so every id-taking action is also an IDOR probe; the tests at the end check the victim's rows are unchanged.
"""
import uuid
from datetime import date, timedelta

import pytest
from flask import url_for

from marketplace.accounts import services, tokens
from marketplace.accounts.models import (
    ApiToken,
    Invitation,
    MemberRole,
    Organisation,
    OrganisationEvent,
    OrganisationStatus,
    User,
)
from marketplace.agreements.models import Agreement, AgreementRevision, AgreementState, ConferenceEvent, PartyRole
from marketplace.alliance.followup_models import FollowUpEntry, FollowUpKind, Milestone
from marketplace.catalog import importing
from marketplace.catalog.models import OcopCertificate, ProductImage
from marketplace.extensions import db
from marketplace.inquiries.models import Inquiry
from marketplace.orders.models import Order, OrderLine
from marketplace.payments.models import Payment, PaymentMethod, PaymentPurpose
from marketplace.sqltypes import utcnow
from tests import factories

ROLES = ("anonymous", "cooperative", "enterprise", "alliance")
SKIPPED_ENDPOINTS = {"static", "bootstrap.static"}  # files, no access decision to make

LOGIN = "→ /login"  # 302 to the login page, which names the page asked for in ?next=
HOME = "→ /"  # 302 to the home page
MY_HOME = "→ /home"  # 302 to the signed-in person's own home (main.my_home)


def everyone(status):
    return dict.fromkeys(ROLES, status)


def signed_in(status, **exceptions):
    """Anonymous people are sent to log in; every signed-in role gets `status` unless listed."""
    return {"anonymous": LOGIN, **dict.fromkeys(ROLES[1:], status), **exceptions}


def alliance_only(status):
    return {"anonymous": LOGIN, "cooperative": 403, "enterprise": 403, "alliance": status}


# endpoint → {role: expected status}. GET when the rule allows it, otherwise POST with an empty form (or the
# rule's only method, e.g. PUT or DELETE).
ACCESS = {
    # public pages
    "main.home": everyone(200),
    "main.health": everyone(200),
    "main.set_language": everyone(HOME),
    "main.choose_language": everyone(HOME),  # the anonymous pages' link: sets the session's language, nothing else
    "main.hide_demo_banner": everyone(HOME),  # only sets a cookie in the browser that asks
    "accounts.login": {"anonymous": 200, "cooperative": MY_HOME, "enterprise": MY_HOME, "alliance": MY_HOME},
    # each role's own home: the work waiting for its organisation (read through each domain's services)
    "main.my_home": signed_in(200),
    "accounts.unlock_login": everyone(404),  # an unknown unlock link
    "accounts.logout": everyone(HOME),
    "accounts.register_start": everyone(200),
    "accounts.register": everyone(200),
    "accounts.register_sent": everyone(200),
    "accounts.confirm_registration": everyone(404),  # an unknown registration link
    "accounts.forgot_password": everyone(200),
    "accounts.reset_password": everyone(404),  # an unknown reset token
    "accounts.accept_invitation": everyone(404),  # an unknown invitation token
    # one's own account and organisation
    "accounts.account": signed_in(200),
    "accounts.change_password": signed_in(422),
    "accounts.create_token": signed_in(422),
    "accounts.revoke_token": signed_in(404),  # the victim's token
    "accounts.organisation": signed_in(200),
    "accounts.members": signed_in(200),
    "accounts.invite": signed_in(422),
    "accounts.remove_member": signed_in(404),  # the victim's member
    "accounts.signing_right": signed_in(404),  # the victim's member
    "accounts.revoke_invitation": signed_in(404),  # the victim's invitation
    # the alliance's back office
    "alliance.organisations": alliance_only(200),
    "alliance.organisation": alliance_only(200),
    "alliance.review": alliance_only("→ /alliance/organisations/"),
    "alliance.classify": alliance_only("→ /alliance/organisations/"),
    "alliance.certificates": alliance_only(200),
    "alliance.certificate": alliance_only(200),
    # the alliance reaches the victim's certificate, and an empty form is refused at its field: verifying a
    # certificate without a scan needs a note saying what was checked
    "alliance.review_certificate": alliance_only(422),
    "alliance.needs_attention": alliance_only(200),  # issue 11: MoUs needing attention, alliance staff only
    # issue 11, overview and reports: the dashboard, a conference's report and their exports (CSV here)
    "alliance.dashboard": alliance_only(200),
    "alliance.dashboard_export": alliance_only(200),
    "alliance.conference_report": alliance_only(200),
    "alliance.conference_export": alliance_only(200),
    # the public catalogue: the victim's draft and the rejected cooperative answer 404 to everyone
    "catalog.catalogue": everyone(200),
    "catalog.product": everyone(404),
    "catalog.product_qr": everyone(404),
    "catalog.product_label": everyone(404),
    "catalog.cooperative": everyone(404),
    "catalog.photo": everyone(404),  # no file behind the name
    "catalog.thumbnail": everyone(404),
    # spreadsheet import and export: cooperatives (their own products) and alliance staff (any cooperative)
    "catalog.import_products": {"anonymous": LOGIN, "cooperative": 200, "enterprise": 403, "alliance": 200},
    "catalog.confirm_import": {"anonymous": LOGIN, "cooperative": 404, "enterprise": 403, "alliance": 404},
    "catalog.export_products": {"anonymous": LOGIN, "cooperative": 200, "enterprise": 403, "alliance": 200},
    # the cooperative's product workspace: the victim's product, photo and certificate answer 404 to everyone
    "catalog.my_products": {"anonymous": LOGIN, "cooperative": 200, "enterprise": 403, "alliance": 403},
    "catalog.new_product": {"anonymous": LOGIN, "cooperative": 200, "enterprise": 403, "alliance": 403},
    "catalog.edit_product": signed_in(404),
    "catalog.publish_product": signed_in(404),
    "catalog.hide_product": signed_in(404),
    "catalog.delete_product": signed_in(404),
    "catalog.add_photos": signed_in(404),
    "catalog.remove_photo": signed_in(404),
    "catalog.make_cover": signed_in(404),
    "catalog.add_certificate": signed_in(404),
    "catalog.withdraw_certificate": signed_in(404),
    "catalog.certificate_scan": signed_in(404),  # the alliance may look, but this certificate has no scan
    # the JSON API: bearer tokens only, so a logged-in browser gets 401 like anybody else
    "api.openapi": everyone(200),
    "api.provinces": everyone(200),
    "api.communes": everyone(200),
    "api.me": everyone(401),
    "api.organisations": everyone(401),
    "api.organisation": everyone(401),
    # the catalogue's API: public reads (the victim's draft, a rejected cooperative: 404), token-only writes
    "api.products": everyone(200),
    "api.product": everyone(404),
    "api.cooperative": everyone(404),
    "api.my_products": everyone(401),
    "api.create_product": everyone(401),
    "api.update_product": everyone(401),
    "api.delete_product": everyone(401),
    "api.publish_product": everyone(401),
    "api.hide_product": everyone(401),
    # search (issue 4): public page, suggestions and API; the victim's draft is never in the index
    "search.search": everyone(200),
    "search.suggest": everyone(200),
    "api.search": everyone(200),
    # memoranda of understanding (issue 9): parties and the alliance only; the QR code's page is public
    "agreements.detail": signed_in(404, alliance=200),  # the victim's MoU: only the alliance sees others' MoUs
    "agreements.verify_reference": everyone(404),  # an unknown reference
    "agreements.index": signed_in(200),
    # verified cooperatives and enterprises propose MoUs; the alliance witnesses and prepares, it does not trade
    "agreements.new": {"anonymous": LOGIN, "cooperative": 200, "enterprise": 200, "alliance": 403},
    # the victim's MoU: every action of a party answers 404 to third parties, the alliance included (it is no
    # party of it); only "carried out" is the alliance's too, refused on the page because the MoU is not signed
    "agreements.edit": signed_in(404),
    "agreements.addendum": signed_in(404),
    "agreements.send": signed_in(404),
    "agreements.accept": signed_in(404),
    "agreements.decline": signed_in(404),
    "agreements.withdraw": signed_in(404),
    "agreements.add_witness": signed_in(404),
    "agreements.sign": signed_in(404),
    "agreements.request_void": signed_in(404),
    "agreements.confirm_void": signed_in(404),
    "agreements.complete": signed_in(404, alliance="→ /agreements/"),
    "agreements.document": signed_in(404),  # the alliance may see it, but its terms are not agreed: no PDF yet
    "agreements.certificate": signed_in(404),
    # inquiries: the buyer and the cooperative of a thread only (the victim's thread: 404 to everyone else);
    # only verified enterprises ask (without a product to ask about: 404)
    "inquiries.inbox": signed_in(200),
    "inquiries.new": {"anonymous": LOGIN, "cooperative": 403, "enterprise": 404, "alliance": 403},
    "inquiries.thread": signed_in(404),
    "inquiries.reply": signed_in(404),
    # the alliance's conferences and the MoUs it prepares for them
    # the follow-up of an MoU (milestones, evidence, the log, nudges): the victim's MoU is a third party's to
    # everyone but the alliance; it is not signed, so its milestone cannot change (flashed), and it has no file
    **dict.fromkeys(["followup.add_milestone", "followup.delete_milestone", "followup.mark_done"],
                    signed_in(404, alliance="→ /agreements/")),
    "followup.edit_milestone": signed_in(404, alliance="→ /agreements/"),  # not signed: back to the MoU
    "followup.evidence": signed_in(404),
    "followup.record_entry": signed_in(404, alliance=422),  # an empty form
    "followup.delete_entry": signed_in(404, alliance="→ /agreements/"),
    "followup.nudge": signed_in(404, alliance=422),  # an empty form
    "notices.index": signed_in(200),  # one's own organisation's notices
    "agreements.conferences": alliance_only(200),
    "agreements.conference": alliance_only(200),
    "agreements.import_conference_batch": alliance_only(422),  # no file
    # the MoU API: bearer tokens only (test_api_agreements.py checks a third party's token gets 404)
    **dict.fromkeys(["api.agreements", "api.agreement", "api.agreement_document", "api.create_agreement",
                     "api.revise_agreement", "api.send_agreement", "api.accept_agreement", "api.decline_agreement",
                     "api.withdraw_agreement", "api.sign_agreement", "api.void_agreement"], everyone(401)),
    # the follow-up API (issue 11): bearer tokens only (test_tracking_pages.py checks parties, third parties, staff)
    "api.agreement_progress": everyone(401),
    "api.alliance_agreements": everyone(401),
    # public: anyone verifies a PDF with the platform's CA certificate and revocation list
    "agreements.verify": everyone(200),
    "agreements.ca_certificate": everyone(200),
    "agreements.ca_crl": everyone(200),
    # orders: the buyer and the cooperative of an order only (the victim's order and payment: 404 to everyone
    # else, on every order and payment route)
    **dict.fromkeys(["orders.detail", "orders.confirm", "orders.reject", "orders.cancel", "orders.ship",
                     "orders.deliver", "orders.confirmation_pdf", "payments.start", "payments.payment",
                     "payments.card_return", "payments.confirm_transfer"], signed_in(404)),
    # each side's list of its orders; the alliance follows orders through aggregates, not this list
    "orders.index": signed_in(200, alliance=403),
    # the cart and the checkout: verified enterprises only (the victim's draft product cannot be put in a cart,
    # the empty form names no product, and an empty cart sends the checkout back to the cart)
    "orders.cart": {"anonymous": LOGIN, "cooperative": 403, "enterprise": 200, "alliance": 403},
    "orders.add_to_cart": {"anonymous": LOGIN, "cooperative": 403, "enterprise": 404, "alliance": 403},
    "orders.update_cart_item": {"anonymous": LOGIN, "cooperative": 403, "enterprise": 404, "alliance": 403},
    "orders.remove_cart_item": {"anonymous": LOGIN, "cooperative": 403, "enterprise": "→ /cart", "alliance": 403},
    "orders.checkout": {"anonymous": LOGIN, "cooperative": 403, "enterprise": "→ /cart", "alliance": 403},
    # a verified cooperative's payment terms and bank account
    "payments.settings": {"anonymous": LOGIN, "cooperative": 200, "enterprise": 403, "alliance": 403},
    # the order API: bearer tokens only (test_api_orders.py checks third parties' tokens get 404 on every route)
    **dict.fromkeys(["api.orders", "api.order", "api.place_orders", "api.confirm_order", "api.reject_order",
                     "api.cancel_order", "api.ship_order", "api.deliver_order", "api.start_payment",
                     "api.payment_received"], everyone(401)),
    # Stripe's webhook: anyone may post, only a body signed with STRIPE_WEBHOOK_SECRET is processed
    "stripe_webhook.stripe_webhook": everyone(400),
}

# Endpoints anyone may use. Every other endpoint must turn anonymous people away (302 to login, or 401).
PUBLIC = {
    "main.home", "main.health", "main.set_language", "main.choose_language", "main.hide_demo_banner", "accounts.login", "accounts.unlock_login", "accounts.logout",
    "accounts.register_start", "accounts.register", "accounts.register_sent", "accounts.confirm_registration",
    "accounts.forgot_password", "accounts.reset_password",
    "accounts.accept_invitation", "api.openapi", "api.provinces", "api.communes",
    "catalog.catalogue", "catalog.product", "catalog.product_qr", "catalog.product_label", "catalog.cooperative",
    "catalog.photo", "catalog.thumbnail",
    "api.products", "api.product", "api.cooperative",
    "search.search", "search.suggest", "api.search", "agreements.verify_reference", "agreements.verify",
    "agreements.ca_certificate", "agreements.ca_crl", "stripe_webhook.stripe_webhook",
}


@pytest.fixture
def app(make_app):
    # Many logins from one test client: the per-IP login limit is tested elsewhere, not here.
    app = make_app(RATELIMIT_ENABLED=False)
    with app.app_context():
        yield app
        db.session.remove()


@pytest.fixture
def victim(app):
    """A pending cooperative nobody in ROLES belongs to, with a member, an open invitation and a token."""
    organisation = factories.organisation("cooperative", status="pending")
    owner = factories.user(organisation, email="victim-owner@htx.example")
    member = factories.user(organisation, email="victim-member@htx.example", role="member")
    invitation = Invitation(organisation=organisation, email="invitee@htx.example", role=MemberRole.MEMBER,
                            token_hash=tokens.digest(tokens.new_secret()), invited_by=owner,
                            expires_at=utcnow() + timedelta(days=7))
    db.session.add(invitation)
    db.session.commit()
    token, secret = services.create_api_token(member, "victim's ERP")
    # A draft: never public, even after the alliance.review probe (sorted before /api, /products) verifies
    # the victim mid-run. For the same reason cooperative_id names a cooperative the alliance rejected.
    product = factories.product(organisation, status="draft")
    rejected = factories.organisation("cooperative", status="rejected")
    image = ProductImage(product=product, stored_name=uuid.uuid4().hex, width=4, height=3, position=0)
    certificate = OcopCertificate(product=product, stars=4, certificate_no="VICTIM-1", expires_on=date(2099, 1, 1))
    db.session.add_all([image, certificate])
    buyer = factories.organisation("enterprise", status="verified")
    agreement = Agreement(reference="MOU-VICTIM-1", buyer=buyer, seller=organisation, initiator=organisation,
                          state=AgreementState.SENT, turn=buyer, start_date=date(2026, 1, 1), end_date=date(2099, 1, 1))
    agreement.revisions = [AgreementRevision(number=1, author=organisation, terms={}, content_sha256="0" * 64)]
    db.session.add(agreement)
    inquiry = Inquiry(buyer=buyer, seller=organisation, product_name="Mật ong", last_author_id=buyer.id)
    conference = ConferenceEvent(name="Hội nghị kết nối 2024", held_on=date(2024, 11, 20))
    order = Order(reference="DH-VICTIM-1", buyer=buyer, cooperative=organisation, checkout_id="victim",
                  province_code=20, commune_code=6040, street="Số 1", requested_date=date(2099, 1, 1), total_vnd=100)
    order.lines = [OrderLine(position=0, product_id=product.id, name="Mật ong", unit="kg", quantity=1,
                             unit_price_vnd=100, line_total_vnd=100, price_source="tier")]
    payment = Payment(order=order, method=PaymentMethod.BANK_TRANSFER, purpose=PaymentPurpose.FULL, amount_vnd=100,
                      reference="HTXVICTIM0001")
    db.session.add_all([inquiry, conference, order, payment])
    db.session.flush()
    milestone = Milestone(agreement_id=agreement.id, title="Giao mẫu", responsible=PartyRole.SELLER,
                          due_on=date(2099, 1, 1), created_by_organisation_id=organisation.id)
    entry = FollowUpEntry(agreement_id=agreement.id, kind=FollowUpKind.CALL, happened_on=date(2026, 1, 2), note="Gọi")
    db.session.add_all([milestone, entry])
    db.session.commit()
    return {"milestone": milestone, "entry": entry, "order": order, "payment": payment, "organisation": organisation, "agreement": agreement, "inquiry": inquiry, "conference": conference, "owner": owner, "member": member, "invitation": invitation,
            "token": token, "secret": secret, "product": product, "image": image, "certificate": certificate,
            "rejected_cooperative": rejected}


@pytest.fixture
def users(alliance_user, cooperative_owner, enterprise_owner):
    return {"cooperative": cooperative_owner, "enterprise": enterprise_owner, "alliance": alliance_user}


def path_values(victim):
    """A value for every path parameter name used in url_map."""
    return {
        "organisation_id": victim["organisation"].id,
        "user_id": victim["member"].id,
        "invitation_id": victim["invitation"].id,
        "token_id": victim["token"].id,
        "action": "verify",
        "kind": "cooperative",
        # An import preview of the victim's owner: confirm_import is an IDOR probe too (reset and
        # invitation tokens of that shape do not exist).
        "token": importing.save_preview(victim["owner"], importing.Table(["name"], [(2, {"name": "x"})])),
        "fmt": "csv",
        "province_code": 20,
        "slug": "not-the-slug",  # the product pages redirect a wrong slug, once the product is public
        "name": "0123456789abcdef" * 2,  # a well-formed photo name with no file behind it
        "product_id": victim["product"].id,
        "image_id": victim["image"].id,
        "certificate_id": victim["certificate"].id,
        "agreement_id": victim["agreement"].id,
        "milestone_id": victim["milestone"].id,
        "entry_id": victim["entry"].id,
        "inquiry_id": victim["inquiry"].id,
        "conference_id": victim["conference"].id,
        "order_id": victim["order"].id,
        "payment_id": victim["payment"].id,
        "reference": "MOU-2026-999999",
        "cooperative_id": victim["rejected_cooperative"].id,
    }


def checked_rules(app):
    return sorted((r for r in app.url_map.iter_rules() if r.endpoint not in SKIPPED_ENDPOINTS),
                  key=lambda r: r.rule)


def url_of(app, rule, values):
    missing = rule.arguments - values.keys()
    assert not missing, f"{rule.endpoint}: give path_values() a value for {sorted(missing)}"
    with app.test_request_context():
        return url_for(rule.endpoint, **{name: values[name] for name in rule.arguments})


def outcome(response):
    """The status code, or for a redirect '→ <path>' (the query string is left out)."""
    if response.status_code != 302:
        return response.status_code
    return "→ " + response.headers["Location"].split("?")[0].removeprefix("http://localhost")


def matches(expected, actual):
    if isinstance(expected, str) and expected.endswith("/") and expected != HOME:
        return isinstance(actual, str) and actual.startswith(expected)  # a prefix such as "→ /alliance/..."
    return expected == actual


def signed_in_client(app, user):
    client = app.test_client()
    response = client.post("/login", data={"email": user.email, "password": factories.PASSWORD})
    assert response.status_code == 302, f"cannot log in as {user.email}"
    return client


def test_every_endpoint_is_in_the_access_table(app):
    endpoints = {rule.endpoint for rule in checked_rules(app)}
    missing = sorted(endpoints - ACCESS.keys())
    assert not missing, (
        f"Add these endpoints to ACCESS in tests/test_access_table.py, with the status each role must get: {missing}"
    )
    stale = sorted(ACCESS.keys() - endpoints)
    assert not stale, f"ACCESS lists endpoints that no longer exist; remove them: {stale}"
    assert all(set(row) == set(ROLES) for row in ACCESS.values())


def test_the_table_denies_by_default():
    """Only endpoints on the PUBLIC allowlist may answer anonymous people with anything but login/401."""
    for endpoint, row in ACCESS.items():
        if endpoint not in PUBLIC:
            assert row["anonymous"] in (LOGIN, 401), f"{endpoint} is not public: anonymous must get {LOGIN} or 401"
    assert PUBLIC <= ACCESS.keys()


def test_every_endpoint_answers_each_role_as_the_table_says(app, users, victim):
    values = path_values(victim)
    clients = {"anonymous": app.test_client()}
    clients.update({role: signed_in_client(app, user) for role, user in users.items()})
    mismatches = []
    for rule in checked_rules(app):
        if rule.endpoint not in ACCESS:
            continue  # reported by test_every_endpoint_is_in_the_access_table
        url = url_of(app, rule, values)
        method = next(m for m in ("GET", "POST", "PUT", "PATCH", "DELETE") if m in rule.methods)
        for role in ROLES:
            response = clients[role].open(url, method=method)
            actual, expected = outcome(response), ACCESS[rule.endpoint][role]
            if not matches(expected, actual):
                mismatches.append(f"{rule.endpoint} {method} {url} as {role}: expected {expected}, got {actual}")
            if expected == LOGIN:
                assert "next=" in response.headers["Location"], f"{rule.endpoint}: the login link forgets the page"
            if role != "anonymous" and rule.endpoint == "accounts.logout":
                clients[role] = signed_in_client(app, users[role])  # that request ended the session
    assert not mismatches, "\n".join(mismatches)


def test_anonymous_people_are_turned_away_whatever_the_method(app, victim):
    """Every non-public endpoint, with every method it accepts (not only the one the table uses)."""
    client, values, failures = app.test_client(), path_values(victim), []
    for rule in checked_rules(app):
        if rule.endpoint in PUBLIC:
            continue
        url = url_of(app, rule, values)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            actual = outcome(client.open(url, method=method))
            if actual not in (LOGIN, 401):
                failures.append(f"{method} {url}: {actual}")
    assert not failures, "\n".join(failures)


def test_a_session_cookie_is_never_api_authentication(app, users):
    """Also for a user whose token exists: the API reads only the Authorization header."""
    services.create_api_token(users["alliance"], "staff")
    client = signed_in_client(app, users["alliance"])
    for path in ("/api/v1/me", "/api/v1/organisations"):
        assert client.get(path).status_code == 401


# ---------------------------------------------------------------- IDOR: foreign ids change nothing

def snapshot(victim):
    db.session.expire_all()
    organisation = db.session.get(Organisation, victim["organisation"].id)
    return {
        "members": sorted((u.id, u.is_active, u.role.value) for u in
                          db.session.scalars(db.select(User).filter_by(organisation_id=organisation.id))),
        "tokens": sorted((t.id, t.revoked_at) for t in
                         db.session.scalars(db.select(ApiToken).filter_by(user_id=victim["member"].id))),
        "invitations": sorted((i.id, i.revoked_at, i.accepted_at) for i in
                              db.session.scalars(db.select(Invitation).filter_by(organisation_id=organisation.id))),
        "organisation": (organisation.status, organisation.status_reason, organisation.classification),
        "events": db.session.scalar(db.select(db.func.count(OrganisationEvent.id))
                                    .filter_by(organisation_id=organisation.id)),
    }


@pytest.mark.parametrize("role", ["cooperative", "enterprise", "alliance"])
def test_foreign_members_tokens_and_invitations_cannot_be_touched(app, users, victim, role):
    before = snapshot(victim)
    client = signed_in_client(app, users[role])
    for url in (
        f"/organisation/members/{victim['member'].id}/remove",
        f"/organisation/members/{victim['owner'].id}/remove",
        f"/account/tokens/{victim['token'].id}/revoke",
        f"/organisation/invitations/{victim['invitation'].id}/revoke",
    ):
        assert client.post(url).status_code == 404, url
    assert snapshot(victim) == before
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {victim['secret']}"}).status_code == 200


def test_a_member_cannot_remove_a_colleague_nor_revoke_their_invitations(app, victim):
    colleague = factories.user(victim["organisation"], email="colleague@htx.example", role="member")
    before = snapshot(victim)
    client = signed_in_client(app, victim["member"])
    assert client.post(f"/organisation/members/{colleague.id}/remove").status_code == 403
    assert client.post(f"/organisation/invitations/{victim['invitation'].id}/revoke").status_code == 403
    assert snapshot(victim) == before


def test_tokens_are_personal_even_for_the_owner(app, victim):
    before = snapshot(victim)
    client = signed_in_client(app, victim["owner"])
    assert client.post(f"/account/tokens/{victim['token'].id}/revoke").status_code == 404
    assert snapshot(victim) == before


@pytest.mark.parametrize("role", ["cooperative", "enterprise"])
@pytest.mark.parametrize("action", ["verify", "reject", "suspend", "reinstate", "classification"])
def test_only_alliance_staff_can_review(app, users, victim, role, action):
    before = snapshot(victim)
    client = signed_in_client(app, users[role])
    url = f"/alliance/organisations/{victim['organisation'].id}/{action}"
    response = client.post(url, data={"reason": "tried by a non-member", "classification": "good"})
    assert response.status_code == 403
    assert snapshot(victim) == before
    # Nor on their own organisation: self-verification would be the worst escalation of all.
    own = client.post(f"/alliance/organisations/{users[role].organisation_id}/{action}",
                      data={"reason": "self-service", "classification": "good"})
    assert own.status_code == 403
    db.session.expire_all()
    assert db.session.get(Organisation, users[role].organisation_id).status == OrganisationStatus.VERIFIED


def test_alliance_review_of_an_unknown_or_alliance_organisation_is_404(app, users, victim):
    client = signed_in_client(app, users["alliance"])
    assert client.post("/alliance/organisations/999999/verify").status_code == 404
    own = users["alliance"].organisation_id
    assert client.post(f"/alliance/organisations/{own}/suspend", data={"reason": "x"}).status_code == 404
    assert client.post(f"/alliance/organisations/{own}/classification",
                       data={"classification": "good"}).status_code == 404


# ---------------------------------------------------------------- row 41: private pages are not stored

def test_every_page_a_signed_in_person_sees_is_not_stored(app, users, victim):
    """Issue 12: the account, members, workspace and alliance pages (and every page behind a login from
    now on) must not stay in a browser's or proxy's cache. Only answers that declare themselves public
    (the same for everyone: photos, QR codes, suggestions) may be kept."""
    values, stored = path_values(victim), []
    for role, user in users.items():
        client = signed_in_client(app, user)
        for rule in checked_rules(app):
            if "GET" not in rule.methods:
                continue
            url = url_of(app, rule, values)
            response = client.get(url)
            cache = response.cache_control
            if not cache.no_store and (response.mimetype == "text/html" or not cache.public):
                stored.append(f"{role} GET {url}: {response.status_code} Cache-Control: {cache}")
    assert not stored, "\n".join(stored)


def test_the_private_pages_of_issue_12_are_not_stored(app, users, victim):
    client = signed_in_client(app, users["cooperative"])
    product = factories.product(users["cooperative"].organisation, status="draft")
    for path in ("/account", "/organisation/members", f"/products/{product.id}/edit", "/workspace/products"):
        response = client.get(path)
        assert response.status_code == 200 and response.cache_control.no_store, path
    alliance = signed_in_client(app, users["alliance"])
    for path in ("/alliance/organisations", "/alliance/certificates"):
        response = alliance.get(path)
        assert response.status_code == 200 and response.cache_control.no_store, path


def test_turning_an_anonymous_person_away_is_not_stored_either(app, victim):
    client, values = app.test_client(), path_values(victim)
    for rule in checked_rules(app):
        if rule.endpoint in PUBLIC or "GET" not in rule.methods:
            continue
        response = client.get(url_of(app, rule, values))
        assert response.cache_control.no_store, f"{rule.endpoint}: {response.status_code} {response.cache_control}"


def test_public_pages_keep_their_caching_for_anonymous_visitors(client, cooperative_owner):
    for path in ("/", "/products", "/search?q=mien"):
        response = client.get(path)
        assert response.status_code == 200 and not response.cache_control.no_store, path
    # ... and become private once someone signs in: the header names them.
    client.post("/login", data={"email": cooperative_owner.email, "password": factories.PASSWORD})
    assert client.get("/products").cache_control.no_store
