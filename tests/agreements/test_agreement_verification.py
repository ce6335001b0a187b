"""Issue 9's definition of done for signing, and the public verification: two organisations go from a draft,
through a counter-proposal, to a PDF signed by both and witnessed by the alliance, which pyHanko and pdfsig
accept; every forbidden signature is refused; anyone can upload the PDF (or open the QR link) and learn whether
it is a document of this platform, who signed and when, whether anything changed after each signature, whether
each certificate was valid and not revoked, and whether it is the final version on record. A file that is not a
PDF, too big, encrypted or malformed gets a clear message, never a 500."""
import hashlib
import io
from datetime import date, timedelta

import pytest
import sqlalchemy as sa
from cryptography import x509
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from marketplace.agreements import services, signing, terms
from marketplace.agreements.models import AgreementEventKind, AgreementState, Signature
from marketplace.errors import Forbidden, NotFound, ValidationFailed
from marketplace.extensions import db
from tests import factories
from tests.support import append_update, encrypted_pdf, pdfsig

START = date.today() + timedelta(days=7)


@pytest.fixture
def world(app):
    seller = factories.user(factories.organisation("cooperative", legal_name="HTX Nông sản sạch Tràng Định"),
                            email="chu@htx.example", full_name="Hoàng Văn Minh")
    buyer = factories.user(factories.organisation("enterprise", legal_name="Công ty Thực phẩm Sạch Thủ Đô"),
                           email="mua@dn.example", full_name="Trần Quốc Bảo")
    alliance = factories.alliance_user()
    product = factories.product(seller.organisation, name="Thạch đen Tràng Định", base_price_vnd=42000,
                                tiers=[(500, 40000)])
    return seller, buyer, alliance, product


def proposal(product, **changes):
    values = {"lines": [{"product_id": product.id, "quantity": 600, "period": "month", "price_basis": "tier"}],
              "start_date": START.isoformat(), "end_date": (START + timedelta(days=365)).isoformat(),
              "delivery_place": "Kho bên mua tại Hà Nội", "payment_terms": "Chuyển khoản trong 15 ngày"}
    values.update(changes)
    return terms.TermsDetails.from_mapping(values)


def negotiated(world):
    """Drafted by the buyer with the alliance as witness, sent, countered by the cooperative, accepted."""
    seller, buyer, _alliance, product = world
    agreement = services.draft(buyer, seller.organisation_id, proposal(product), witness=True)
    services.send(buyer, agreement.id)
    services.revise(seller, agreement.id, proposal(product, delivery_place="Kho HTX tại Tràng Định"))
    services.accept(buyer, agreement.id, revision_number=2)
    return agreement


def current_pdf(agreement):
    return services.document_path(agreement).read_bytes()


def test_from_a_draft_to_a_pdf_signed_by_both_and_witnessed_that_pyhanko_and_pdfsig_accept(world, nss, tmp_path):
    seller, buyer, alliance, _product = world
    agreement = negotiated(world)
    assert agreement.state == AgreementState.AWAITING_SIGNATURES and agreement.agreed_revision_number == 2
    for signer, state in ((seller, AgreementState.PARTIALLY_SIGNED), (buyer, AgreementState.PARTIALLY_SIGNED),
                          (alliance, AgreementState.SIGNED)):
        services.sign(signer, agreement.id, factories.PASSWORD, revision_number=2,
                      audit=services.Audit("203.0.113.7", "Firefox"))
        assert agreement.state == state
    data = current_pdf(agreement)
    assert hashlib.sha256(data).hexdigest() == agreement.document_sha256
    result = signing.verify(data)
    assert result.ok and result.is_platform_document
    assert [s.organisation for s in result.signatures] == [seller.organisation.legal_name,
                                                           buyer.organisation.legal_name,
                                                           alliance.organisation.legal_name]
    report = pdfsig(data, nss, tmp_path)
    assert len(report) == 3
    assert all(entry["Signature Validation"] == "Signature is Valid." for entry in report)
    assert all(entry["Certificate Validation"] == "Certificate is Trusted." for entry in report)
    # The evidence: each signature with the hashes before and after it, chained, and an event per step.
    signatures = agreement.signatures
    assert signatures[0].sha256_before == agreement.original_sha256
    assert [s.sha256_before for s in signatures[1:]] == [s.sha256_after for s in signatures[:-1]]
    assert (signatures[0].ip_address, signatures[0].user_agent) == ("203.0.113.7", "Firefox")
    signed_events = [e for e in services.events_of(buyer, agreement) if e.kind == AgreementEventKind.SIGNED]
    assert [e.document_sha256 for e in signed_events] == [s.sha256_after for s in signatures]
    certificate = services.completion_certificate(agreement)
    assert certificate.startswith(b"%PDF-") and certificate == services.completion_certificate(agreement)


def test_forbidden_signatures_are_refused(world):
    seller, buyer, alliance, product = world
    agreement = services.draft(buyer, seller.organisation_id, proposal(product), witness=True)
    services.send(buyer, agreement.id)
    with pytest.raises(services.InvalidTransition):
        services.sign(buyer, agreement.id, factories.PASSWORD)  # nothing agreed yet
    services.revise(seller, agreement.id, proposal(product, sampling="Mỗi lô một mẫu"))
    with pytest.raises(services.InvalidTransition) as superseded:
        services.accept(buyer, agreement.id, revision_number=1)  # accepting terms changed meanwhile
    assert superseded.value.code == "superseded_revision"
    services.accept(buyer, agreement.id, revision_number=2)
    with pytest.raises(services.InvalidTransition) as superseded:
        services.sign(seller, agreement.id, factories.PASSWORD, revision_number=1)  # a superseded revision
    assert superseded.value.code == "superseded_revision"
    third = factories.user(factories.organisation("enterprise"), email="khac@dn.example")
    with pytest.raises(NotFound):
        services.sign(third, agreement.id, factories.PASSWORD)  # a third party
    member = factories.user(seller.organisation, email="thanhvien@htx.example", role="member")
    with pytest.raises(Forbidden) as no_right:
        services.sign(member, agreement.id, factories.PASSWORD)  # a member without the signing right
    assert no_right.value.code == "no_signing_right"
    with pytest.raises(ValidationFailed) as wrong:
        services.sign(seller, agreement.id, "không phải mật khẩu")
    assert set(wrong.value.errors) == {"password"}
    services.sign(seller, agreement.id, factories.PASSWORD, revision_number=2)
    with pytest.raises(services.InvalidTransition) as twice:
        services.sign(seller, agreement.id, factories.PASSWORD)  # signing twice
    assert twice.value.code == "already_signed"
    assert db.session.scalar(sa.select(sa.func.count(Signature.id))) == 1
    assert agreement.state == AgreementState.PARTIALLY_SIGNED


# ---------------------------------------------------------------- the public page

@pytest.fixture
def signed(world):
    seller, buyer, alliance, _product = world
    agreement = negotiated(world)
    versions = [current_pdf(agreement)]
    for signer in (seller, buyer, alliance):
        services.sign(signer, agreement.id, factories.PASSWORD)
        versions.append(current_pdf(agreement))
    return agreement, versions


def upload(client, data, url="/verify", name="thoa-thuan.pdf"):
    # Encoded here, as bytes: the test client would spool a large body to a temporary file that a refused
    # request leaves open.
    boundary, body = encode_multipart({"document": FileStorage(io.BytesIO(data), filename=name,
                                                               content_type="application/pdf")})
    return client.post(url, data=body, content_type=f"multipart/form-data; boundary={boundary}")


def test_the_final_pdf_is_recognised_with_each_signature(app, client, english, signed):
    agreement, versions = signed
    response = upload(client, versions[-1])
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert 'data-verdict="valid"' in html and 'data-match="current"' in html
    assert f"It is the final version on record of {agreement.reference}." in html
    assert html.count('class="signature-card"') == 3
    for organisation in (agreement.seller, agreement.buyer, agreement.witness):
        assert organisation.legal_name in html
    assert "The certificate is valid and not revoked." in html and "Nothing was changed after this signature." in html
    assert hashlib.sha256(versions[-1]).hexdigest() in html
    assert "chữ ký số" not in html.replace("không phải chữ ký số", "")


def test_an_earlier_version_is_valid_but_not_the_final_one(app, client, english, signed):
    agreement, versions = signed
    html = upload(client, versions[1]).get_data(as_text=True)  # after the cooperative's signature only
    assert 'data-verdict="valid"' in html and 'data-match="earlier"' in html
    assert agreement.document_sha256 in html and html.count('class="signature-card"') == 1


def test_a_change_after_the_signatures_is_shown(app, client, english, signed):
    agreement, versions = signed
    changed = append_update(versions[-1], b"BT /F1 24 Tf 72 700 Td (Gia moi: 1 dong) Tj ET")
    html = upload(client, changed).get_data(as_text=True)
    assert 'data-verdict="invalid"' in html and "Do not rely on this document" in html
    assert "The document was changed after this signature in a way it does not allow." in html
    assert 'data-match="earlier"' in html and agreement.reference in html  # found by the hashes of its versions
    tampered = bytearray(versions[-1])
    tampered[versions[-1].index(b"stream\n") + 100] ^= 1
    html = upload(client, bytes(tampered)).get_data(as_text=True)
    assert 'data-verdict="invalid"' in html and 'data-match="none"' in html
    assert "The signed content was changed, or the signature does not match its certificate." in html


def test_a_revoked_certificate_is_shown(app, client, english, signed):
    agreement, versions = signed
    from marketplace.unit_of_work import unit_of_work

    with unit_of_work():
        signing.revoke(agreement.buyer, "key compromise")
    html = upload(client, versions[-1]).get_data(as_text=True)
    assert 'data-verdict="invalid"' in html and "The certificate has been revoked." in html


@pytest.mark.parametrize("name, make, message, status", [
    ("text", lambda: "Thỏa thuận ghi nhớ".encode(), "This file is not a PDF.", 422),
    ("image", factories.png, "This file is not a PDF.", 422),
    ("encrypted", encrypted_pdf, "This PDF is encrypted", 422),
    ("damaged", lambda: b"%PDF-1.7\n" + bytes(range(256)) * 40, "This PDF is damaged or cannot be read.", 422),
    ("over 5 MB, under 20 MB", lambda: b"%PDF-1.7\n" + b"0" * (8 * 1024 * 1024), "cannot be read", 422),
    ("over 20 MB", lambda: b"%PDF-1.7\n" + b"0" * (21 * 1024 * 1024), "larger than 20 MB", 413),
])
def test_a_file_that_cannot_be_checked_gets_a_clear_message(app, client, english, name, make, message, status):
    response = upload(client, make())
    html = response.get_data(as_text=True)
    assert response.status_code == status, name
    assert message in html, name
    assert 'type="file"' in html  # the form again, to try another file


def test_a_post_without_a_file_asks_for_one(app, client, english):
    response = client.post("/verify", data={}, content_type="multipart/form-data")
    assert response.status_code == 422 and "Choose a PDF file to check." in response.get_data(as_text=True)


def test_the_qr_link_shows_the_record_and_checks_a_copy_against_it(app, client, english, signed):
    agreement, versions = signed
    html = client.get(f"/verify/{agreement.reference}").get_data(as_text=True)
    assert agreement.original_sha256 in html and agreement.document_sha256 in html
    assert html.count("Signed by") == 3 and f'action="/verify/{agreement.reference}"' in html
    html = upload(client, versions[-1], url=f"/verify/{agreement.reference}").get_data(as_text=True)
    assert 'data-match="current"' in html
    assert client.get("/verify/MOU-2026-999999").status_code == 404


def test_the_ca_certificate_and_the_crl_are_public(app, client):
    response = client.get("/agreements/ca.pem")
    assert response.status_code == 200 and response.data == signing.ca_certificate_pem()
    assert "attachment" in response.headers["Content-Disposition"]
    ca = x509.load_pem_x509_certificate(response.data)
    crl = client.get("/agreements/ca.crl")
    assert crl.status_code == 200 and crl.mimetype == "application/pkix-crl"
    assert x509.load_der_x509_crl(crl.data).is_signature_valid(ca.public_key())
    assert signing.CRL_PATH == "/agreements/ca.crl"
    assert 'href="/agreements/ca.pem"' in client.get("/verify").get_data(as_text=True)


def test_verification_does_not_need_an_account_and_records_nothing(app, client, signed):
    agreement, versions = signed
    before = len(services.events_of(factories.alliance_user("other@lienminh.example"), agreement))
    upload(client, versions[-1])
    assert len(services.events_of(agreement.buyer.members[0], agreement)) == before
