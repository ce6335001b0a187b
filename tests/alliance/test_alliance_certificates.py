"""The alliance's queue of OCOP certificates: list by status, verify, revoke with a reason, through the pages.

The badge rules themselves are tested on the services (test_catalog_services.py) and on the public pages
(test_catalogue_pages.py); here: what staff see and do, what others may not, CSRF and escaping.
"""
import re
from datetime import date, timedelta

import pytest

from marketplace.catalog.models import CatalogEvent, CatalogEventKind, CertificateStatus, OcopCertificate
from marketplace.extensions import db
from tests import factories
from tests.support import csrf_token_from, login_with_form

XSS = '"><img src=x onerror=alert(1)>'
TODAY = date.today()
CHECKED = "Đã đối chiếu quyết định công nhận OCOP số 185/QĐ-UBND."
CONFIRMED = {"reason": "Số giấy chứng nhận không khớp quyết định của UBND tỉnh.", "confirm": "y"}


def html(response, status=200):
    assert response.status_code == status, (response.status_code, response.headers.get("Location"))
    return response.get_data(as_text=True)


def text_of(page):
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page))


def listed(page):
    """Ids of the certificates in the queue's table."""
    return [int(i) for i in re.findall(r'href="/alliance/certificates/(\d+)"', page)]


def certificate(seller=None, status="pending", stars=4, expires_on=None, **fields):
    item = factories.product(seller or factories.organisation("cooperative"), **fields.pop("product", {}))
    row = OcopCertificate(product=item, stars=stars, certificate_no=fields.pop("certificate_no", f"QĐ-{item.id}/OCOP"),
                          decision_date=TODAY - timedelta(days=60), expires_on=expires_on or TODAY + timedelta(days=900),
                          status=CertificateStatus(status), **fields)
    db.session.add(row)
    db.session.commit()
    return row


def status_of(row):
    db.session.expire_all()
    return db.session.get(OcopCertificate, row.id).status


@pytest.fixture
def staff(client, auth, alliance_user):
    auth.login(alliance_user.email)
    return client


# ---------------------------------------------------------------- the queue

def test_the_queue_lists_pending_certificates_with_their_details(staff, english):
    seller = factories.organisation("cooperative", legal_name="HTX Nông sản sạch Tràng Định")
    waiting = certificate(seller, stars=5, certificate_no="185/QĐ-UBND", issuing_level="central",
                          product={"name": "Miến dong Bình Liêu"})
    certificate(status="verified")
    certificate(status="revoked")
    page = html(staff.get("/alliance/certificates"))
    assert listed(page) == [waiting.id]
    text = text_of(page)
    for expected in ("Miến dong Bình Liêu", "HTX Nông sản sạch Tràng Định", "5 stars", "185/QĐ-UBND",
                     (TODAY - timedelta(days=60)).strftime("%d/%m/%Y"), (TODAY + timedelta(days=900)).strftime("%d/%m/%Y"),
                     "1 certificate is waiting for verification."):
        assert expected in text, expected


@pytest.mark.parametrize("status", ["pending", "verified", "revoked", "expired"])
def test_the_queue_filters_by_status(staff, status):
    rows = {s: certificate(status=s) for s in ("pending", "verified", "revoked", "expired")}
    page = html(staff.get(f"/alliance/certificates?status={status}"))
    assert listed(page) == [rows[status].id]
    assert f'<option value="{status}" selected>' in page
    everything = html(staff.get("/alliance/certificates?status="))
    assert sorted(listed(everything)) == sorted(r.id for r in rows.values())


def test_a_bad_status_shows_everything_rather_than_an_error(staff):
    rows = [certificate(status=s) for s in ("pending", "verified")]
    page = html(staff.get("/alliance/certificates?status=%27%20OR%201=1--"))
    assert sorted(listed(page)) == sorted(r.id for r in rows)
    assert html(staff.get("/alliance/certificates?page=-4")) and html(staff.get("/alliance/certificates?page=99999999999999"))


def test_the_queue_is_paginated_oldest_first_and_keeps_the_status(staff):
    seller = factories.organisation("cooperative")
    rows = [certificate(seller) for _ in range(23)]
    first = html(staff.get("/alliance/certificates?status=pending"))
    assert listed(first) == [r.id for r in rows[:20]]
    assert 'href="/alliance/certificates?page=2&amp;status=pending"' in first or \
        'href="/alliance/certificates?status=pending&amp;page=2"' in first
    assert listed(html(staff.get("/alliance/certificates?status=pending&page=2"))) == [r.id for r in rows[20:]]


def test_an_empty_queue_says_so(staff, english):
    certificate(status="verified")
    assert "No certificate with this status." in html(staff.get("/alliance/certificates"))


def test_expired_pending_certificates_are_flagged(staff, english):
    row = certificate(expires_on=TODAY - timedelta(days=3))
    assert "Expired" in html(staff.get("/alliance/certificates"))
    page = html(staff.get(f"/alliance/certificates/{row.id}"))
    assert "it cannot be verified" in page and "/verify" not in page
    assert f'action="/alliance/certificates/{row.id}/revoke"' in page  # it may still be revoked


def test_scan_link_when_the_cooperative_uploaded_one(staff):
    with_scan = certificate(scan_name="0" * 32 + ".pdf")
    without = certificate()
    page = html(staff.get("/alliance/certificates"))
    assert f'href="/certificates/{with_scan.id}/scan"' in page
    assert f'href="/certificates/{without.id}/scan"' not in page
    assert f'href="/certificates/{with_scan.id}/scan"' in html(staff.get(f"/alliance/certificates/{with_scan.id}"))


def test_the_header_shows_how_many_certificates_wait(staff, english):
    for _ in range(3):
        certificate()
    certificate(status="verified")
    page = html(staff.get("/"))
    assert re.search(r'href="/alliance/certificates">Certificates <span class="nav-count">.*?3.*?waiting', page)


# ---------------------------------------------------------------- verify and revoke

def test_verifying_through_the_page_shows_the_badge_and_tells_the_cooperative(staff, outbox, english):
    seller = factories.organisation("cooperative")
    owner = factories.user(seller, email="chu@htx.example")
    row = certificate(seller, stars=4)
    product = row.product
    assert "ocop-badge" not in html(staff.get(f"/products/{product.id}/{product.slug}"))
    page = html(staff.get(f"/alliance/certificates/{row.id}"))
    assert f'action="/alliance/certificates/{row.id}/verify"' in page
    response = staff.post(f"/alliance/certificates/{row.id}/verify", data={"note": CHECKED})
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/alliance/certificates/{row.id}")
    assert status_of(row) == CertificateStatus.VERIFIED
    page = html(staff.get(f"/alliance/certificates/{row.id}"))
    assert "The certificate is verified" in page and "Người Dùng Thử" in page  # who reviewed it
    assert f'action="/alliance/certificates/{row.id}/verify"' not in page  # nothing left to verify
    assert [m.to for m in outbox] == [[owner.email]]
    assert "OCOP 4★" in html(staff.get(f"/products/{product.id}/{product.slug}"))
    kinds = db.session.scalars(db.select(CatalogEvent.kind).filter_by(certificate_id=row.id)).all()
    assert CatalogEventKind.CERTIFICATE_VERIFIED in kinds


def test_verifying_without_a_scan_warns_and_needs_a_note_saying_what_was_checked(staff, english):
    """Issue 13: the alliance could verify a certificate with no scan and was not warned."""
    row = certificate()
    page = html(staff.get(f"/alliance/certificates/{row.id}"))
    assert 'id="no-scan-warning"' in page and "No scan was uploaded." in text_of(page)
    assert re.search(r'<label class="form-label" for="note">What did you check\? <span class="required"', page)
    for note in ("", "  \u200b "):
        page = html(staff.post(f"/alliance/certificates/{row.id}/verify", data={"note": note}), 422)
        assert 'id="note-error"' in page and 'aria-invalid="true"' in page
        assert "There is no scan: say what you checked" in page
        assert status_of(row) == CertificateStatus.PENDING
    response = staff.post(f"/alliance/certificates/{row.id}/verify", data={"note": CHECKED})
    assert response.status_code == 302 and status_of(row) == CertificateStatus.VERIFIED
    page = text_of(html(staff.get(f"/alliance/certificates/{row.id}")))
    assert f"What was checked {CHECKED}" in page and "No scan was uploaded. Check" not in page
    event = db.session.scalar(db.select(CatalogEvent).filter_by(certificate_id=row.id,
                                                                kind=CatalogEventKind.CERTIFICATE_VERIFIED))
    assert event.note == CHECKED


def test_a_certificate_with_a_scan_is_verified_without_a_note_and_no_warning(staff, english):
    row = certificate(scan_name="0" * 32 + ".pdf")
    page = html(staff.get(f"/alliance/certificates/{row.id}"))
    assert 'id="no-scan-warning"' not in page
    assert '<label class="form-label" for="note">What did you check? <span class="required"' not in page
    response = staff.post(f"/alliance/certificates/{row.id}/verify", data={"note": ""})
    assert response.status_code == 302 and status_of(row) == CertificateStatus.VERIFIED


def test_revoking_needs_a_reason_and_a_confirmation(staff, english):
    row = certificate(status="verified")
    for data, field_id in (({"reason": "  ", "confirm": "y"}, "reason"), ({"reason": "Sai số"}, "confirm"),
                           ({}, "reason")):
        response = staff.post(f"/alliance/certificates/{row.id}/revoke", data=data)
        page = html(response, 422)
        assert re.search(rf'<(textarea|input)[^>]*aria-invalid="true"[^>]*id="{field_id}"', page), (data, field_id)
        assert f'id="{field_id}-error"' in page
        assert 'role="alert"' in page
        assert status_of(row) == CertificateStatus.VERIFIED
    page = html(staff.post(f"/alliance/certificates/{row.id}/revoke", data={"confirm": "y"}), 422)
    assert "Give the reason: the cooperative will read it." in page


def test_revoking_removes_the_badge_and_the_cooperative_reads_why(staff, outbox, english):
    seller = factories.organisation("cooperative")
    owner = factories.user(seller, email="chu@htx.example")
    row = certificate(seller, status="verified", stars=3)
    product = row.product
    assert "OCOP 3★" in html(staff.get(f"/products/{product.id}/{product.slug}"))
    response = staff.post(f"/alliance/certificates/{row.id}/revoke", data=CONFIRMED)
    assert response.status_code == 302
    db.session.expire_all()
    saved = db.session.get(OcopCertificate, row.id)
    assert saved.status == CertificateStatus.REVOKED and saved.status_reason == CONFIRMED["reason"]
    page = html(staff.get(f"/alliance/certificates/{row.id}"))
    assert "The certificate is revoked" in page and CONFIRMED["reason"] in page
    assert "/revoke" not in page and "/verify" not in page
    assert "ocop-badge" not in html(staff.get(f"/products/{product.id}/{product.slug}"))
    assert [m.to for m in outbox] == [[owner.email]] and CONFIRMED["reason"] in outbox[0].body


@pytest.mark.parametrize("status, action, expires_in", [
    ("verified", "verify", 100),  # a colleague verified it first
    ("revoked", "verify", 100),
    ("expired", "verify", -5),
    ("pending", "verify", -1),  # expired while waiting, before the daily command
    ("revoked", "revoke", 100),
    ("expired", "revoke", -5),
])
def test_conflicting_actions_are_refused_with_a_clear_message(staff, english, status, action, expires_in):
    row = certificate(status=status, expires_on=TODAY + timedelta(days=expires_in))
    response = staff.post(f"/alliance/certificates/{row.id}/{action}", data=CONFIRMED)
    page = html(response, 409)
    alert = re.search(r'<div class="alert alert-danger" role="alert">(.*?)</div>', page).group(1)
    assert "can be verified" in alert or "already revoked or expired" in alert
    assert status_of(row) == CertificateStatus(status)


def test_unknown_certificates_are_not_found(staff):
    for path in ("/alliance/certificates/999999", "/alliance/certificates/2147483648"):
        assert staff.get(path).status_code == 404
    assert staff.post("/alliance/certificates/999999/verify").status_code == 404
    assert staff.post("/alliance/certificates/999999/revoke", data=CONFIRMED).status_code == 404
    assert staff.post("/alliance/certificates/1/approve").status_code == 404


@pytest.mark.parametrize("who", ["cooperative_owner", "enterprise_owner"])
def test_only_alliance_staff_see_and_review_certificates(request, client, auth, who):
    user = request.getfixturevalue(who)
    own = certificate(user.organisation) if who == "cooperative_owner" else None
    other = certificate()
    auth.login(user.email)
    assert client.get("/alliance/certificates").status_code == 403
    for row in filter(None, (own, other)):  # not even its own certificate: no self-verification
        assert client.get(f"/alliance/certificates/{row.id}").status_code == 403
        assert client.post(f"/alliance/certificates/{row.id}/verify").status_code == 403
        assert client.post(f"/alliance/certificates/{row.id}/revoke", data=CONFIRMED).status_code == 403
        assert status_of(row) == CertificateStatus.PENDING
    assert "/alliance/certificates" not in html(client.get("/"))


# ---------------------------------------------------------------- CSRF and escaping

def test_review_needs_the_pages_csrf_token(make_app):
    app = make_app(WTF_CSRF_ENABLED=True)
    with app.app_context():
        staff_user = factories.alliance_user()
        rows = [certificate(), certificate()]
        client = app.test_client()
        assert login_with_form(client, staff_user.email).status_code == 302
        for row in rows:
            assert client.post(f"/alliance/certificates/{row.id}/verify").status_code == 400
            assert client.post(f"/alliance/certificates/{row.id}/revoke", data=CONFIRMED).status_code == 400
            assert status_of(row) == CertificateStatus.PENDING
        page = html(client.get(f"/alliance/certificates/{rows[0].id}"))
        assert len(re.findall(r'name="csrf_token"', page)) >= 4  # logout, language, verify, revoke
        token = csrf_token_from(page)
        assert client.post(f"/alliance/certificates/{rows[0].id}/verify", data={"csrf_token": token, "note": CHECKED}).status_code == 302
        assert client.post(f"/alliance/certificates/{rows[1].id}/revoke",
                           data={**CONFIRMED, "csrf_token": token}).status_code == 302
        assert [status_of(row) for row in rows] == [CertificateStatus.VERIFIED, CertificateStatus.REVOKED]


def test_user_text_is_escaped_on_the_alliance_pages(staff):
    seller = factories.organisation("cooperative", legal_name=f"HTX {XSS}")
    row = certificate(seller, certificate_no=f"{{{{7*7}}}} {XSS}"[:80], product={"name": f"Na {XSS}"})
    staff.post(f"/alliance/certificates/{row.id}/revoke", data={"reason": f"{{{{7*7}}}} {XSS}", "confirm": "y"})
    for path in ("/alliance/certificates?status=", f"/alliance/certificates/{row.id}"):
        page = html(staff.get(path))
        assert XSS not in page and "<img src=x" not in page
        assert "&#34;&gt;&lt;img src=x onerror=alert(1)&gt;" in page
        assert "{{7*7}}" in page
